"""A believable city IT portfolio for demonstrations and load: `seed_demo(app, root, ...)`.

Ten projects of a city's IT department over about eighteen months of business dates ending
the week before `as_of` (default: today): one closed after G4, one over budget, one behind
schedule, every gate represented, with change requests, budget transfers, purchase orders,
a few thousand vendor invoices, progress, milestone acceptance, risks, issues and monthly
status reports -- more than 10,000 events, each signed by the person who acted (project
managers submit, fiscal officers approve, the sponsor approves change requests and large
amounts, the PMO lead and the sponsor sign gates off).

Everything is decided by `random.Random(seed)` and the calendar, so the same seed and the
same `as_of` give the same portfolio. Money is `Decimal` throughout.

Recorded times are simulated. The history is written in a few seconds, but each act is
recorded (its events' `timestamp`, the "when" of the log) at a plausible moment of the
eighteen months it depicts, through `domain.clock.simulated` -- the only caller of it: a
week's acts (invoices dated that week, progress as of its Friday, its approvals and
sign-offs) are recorded during the next working week, in office hours of a US east-coast
city (13:00-23:00 UTC), in the order they are played, so recorded times never go backwards
along the log and never pass the real time of seeding. The people, their roles and the
policy are recorded the Friday before the first week. So "as of an instant" replays and
the time-based compliance rules see a history that unfolded over eighteen months, not one
written in a single afternoon. (The key ring's events are the ledger's own, outside the
domain, and carry the real time of seeding.)

How it is fast: the whole history is first planned as a list of acts, each one call of a
public `PMOApplication` command, then played with `PMOApplication.batch`: each run of acts
by one person on one project is one unit of work -- loaded once, every command checked as
usual, saved once signed by that person -- and the aggregates stay warm from one unit to
the next, instead of one load and one save per command.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any

from domain import clock
from domain.demo_ledger import DEMO_MARKER, demo_present
from domain.earned_value import figures
from domain.handlers.base import UnitOfWork
from domain.services import Actor, PMOApplication
from ledger.keys import Signer

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
WEEKS = 78  # about eighteen months of history
OFFICE_HOURS_UTC = (13, 23)  # 08:00-18:00 on the US east coast, where the city is

# username, printed name, role, job title (for the e-mail and the printed table)
DEMO_PEOPLE: list[tuple[str, str, str, str]] = [
    ("admin", "Kevin Patel", "admin", "IT systems administrator"),
    ("pm", "Maria Gonzalez", "pm", "Senior project manager"),
    ("pm2", "David Chen", "pm", "Project manager"),
    ("fiscal", "Linda Okafor", "fiscal", "Fiscal officer, IT finance"),
    ("fiscal2", "Robert Kim", "fiscal", "Fiscal officer, Budget office"),
    ("sponsor", "Angela Brooks", "sponsor", "Deputy CIO, executive sponsor"),
    ("pmo", "Thomas Reed", "pmo", "PMO lead"),
    ("auditor", "Sarah Whitfield", "auditor", "City auditor"),
]

# One command: (unit of work, acting person) -> result, for example
# lambda app, a: app.approve_expenditure(a, "IT-2025-004", "EXP-0001"), where `app` is the
# batch's UnitOfWork (it gives the application's commands, saved with the batch).
Op = Callable[[UnitOfWork, Actor], Any]


@dataclass
class _Act:
    week: int
    phase: int  # order within a project's week: submit, 1st approval, 2nd, 3rd, later
    actor: str
    code: str
    fn: Op
    at: datetime | None = None  # when it is recorded (simulated; set by `plan_demo`)


@dataclass
class _Line:
    code: str
    name: str
    category: str
    budget: Decimal
    share: Decimal  # share of spending that lands on this line
    committed: Decimal = ZERO
    spent: Decimal = ZERO
    owed: Decimal = ZERO  # work done, not yet invoiced
    po: str | None = None
    po_remaining: Decimal = ZERO
    po_open_week: int = 0  # invoices cite the PO only after it was approved
    vendors: list[str] = field(default_factory=list)

    @property
    def available(self) -> Decimal:
        return self.budget - self.spent - self.committed


@dataclass
class _Milestone:
    code: str
    name: str
    start: date
    finish: date
    value: Decimal
    percent: int = 0
    accepted: bool = False


@dataclass
class _Spec:
    code: str
    title: str
    pm: str
    start: int  # week
    finish: int  # planned week of completion
    bac: Decimal
    passed: int  # gates passed by the end of the history (5: closed)
    cost_factor: Decimal  # actual cost / earned value
    pace: Decimal  # actual speed of progress / planned
    lines: list[tuple[str, str, str, Decimal, Decimal]]  # code, name, category, budget share, spend share
    vendors: dict[str, list[str]]
    objectives: list[str]
    scope: str
    deliverables: list[tuple[str, str]]
    fund: str
    cost_centre: str
    funding_type: str
    brm: str
    baseline: bool = True  # whether the baseline is entered
    review: str | None = None  # "G0 pending sponsor" style: a gate left under review
    gate_weeks: dict[str, int] = field(default_factory=dict)


# The portfolio -------------------------------------------------------------------------------

LABOUR_FIRMS = ["Accenture", "Plante Moran", "Civic Digital Partners", "CGI Technologies and Solutions",
                "Deloitte Consulting", "Bluewater Data Services"]
HARDWARE = ["Dell Technologies", "CDW Government", "Presidio", "SHI International"]
TRAINERS = ["Riverside Learning Group", "Metro Training Partners", "City College Workforce Center",
            "GeoTech Training Institute"]


def _portfolio() -> list[_Spec]:
    d = Decimal
    std = [("LB-01", "Project team and consultants", "labour", d("0.42"), d("0.44")),
           ("HW-01", "Servers and network equipment", "hardware", d("0.14"), d("0.13")),
           ("SW-01", "Software licences and subscriptions", "software", d("0.18"), d("0.17")),
           ("VS-01", "Vendor implementation services", "vendor services", d("0.20"), d("0.20")),
           ("TR-01", "End-user and administrator training", "training", d("0.06"), d("0.06")),
           ("CT-01", "Management reserve", "contingency", d("0.10"), d("0"))]
    return [
        _Spec("IT-2025-004", "Public Safety CAD Upgrade", "pm", 0, 60, d("2400000.00"), 5,
              d("0.98"), d("1.00"), std,
              {"labour": ["Accenture", "Civic Digital Partners"], "hardware": ["Dell Technologies", "CDW Government"],
               "software": ["Hexagon Safety & Infrastructure"], "vendor services": ["Motorola Solutions"],
               "training": ["Metro Training Partners"]},
              ["Replace the end-of-life computer-aided dispatch system",
               "Cut 911 call-to-dispatch time by 15%"],
              "Upgrade CAD for police, fire and EMS dispatch, with mobile data terminals and GIS maps.",
              [("D-01", "CAD production environment"), ("D-02", "Mobile data terminal client"),
               ("D-03", "Dispatcher training programme"), ("D-04", "Disaster-recovery site")],
              "Public Safety Capital Fund", "CC-2210", "capital", "Chief Karen Holt, Emergency Communications"),
        _Spec("IT-2025-007", "ERP Financials and HR Modernization", "pm2", 2, 92, d("5800000.00"), 4,
              d("1.25"), d("0.97"),
              [("LB-01", "Implementation consultants", "labour", d("0.40"), d("0.53")),
               ("HW-01", "Integration servers", "hardware", d("0.04"), d("0.03")),
               ("SW-01", "ERP subscription", "software", d("0.22"), d("0.18")),
               ("VS-01", "Systems integrator", "vendor services", d("0.28"), d("0.22")),
               ("TR-01", "Finance and HR training", "training", d("0.06"), d("0.04")),
               ("CT-01", "Management reserve", "contingency", d("0.10"), d("0"))],
              {"labour": ["Plante Moran", "Accenture", "Bluewater Data Services"], "hardware": ["Dell Technologies"],
               "software": ["Tyler Technologies"], "vendor services": ["Tyler Technologies"],
               "training": ["Riverside Learning Group"]},
              ["Replace the 1998 mainframe general ledger", "One HR and payroll system for all departments"],
              "General ledger, procurement, accounts payable, HR and payroll on a hosted ERP.",
              [("D-01", "Financials go-live"), ("D-02", "HR and payroll go-live"),
               ("D-03", "Data conversion of 10 fiscal years"), ("D-04", "Reporting data mart")],
              "Enterprise Systems Fund", "CC-1105", "capital", "Janet Moore, Finance Director"),
        _Spec("IT-2025-012", "Online Permits and Licensing Portal", "pm", 12, 70, d("1600000.00"), 3,
              d("1.03"), d("0.70"), std,
              {"labour": ["Civic Digital Partners", "CGI Technologies and Solutions"],
               "hardware": ["CDW Government"], "software": ["Accela"], "vendor services": ["Accela"],
               "training": ["City College Workforce Center"]},
              ["Building, trade and street-use permits online", "Inspections scheduled from a phone"],
              "Citizen portal, plan review, inspections and fee payment for four permit types.",
              [("D-01", "Citizen permit portal"), ("D-02", "Electronic plan review"),
               ("D-03", "Inspector mobile app")],
              "Development Services Fund", "CC-3400", "capital", "Omar Haddad, Building Official"),
        _Spec("IT-2025-015", "Enterprise GIS Modernization", "pm2", 8, 96, d("1250000.00"), 3,
              d("0.97"), d("1.02"), std,
              {"labour": ["Bluewater Data Services"], "hardware": ["CDW Government", "Dell Technologies"],
               "software": ["Esri"], "vendor services": ["Esri"],
               "training": ["GeoTech Training Institute"]},
              ["Move to ArcGIS Enterprise and the parcel fabric", "Open data hub for citizens"],
              "Upgrade the GIS platform, migrate parcels, publish an open data hub.",
              [("D-01", "ArcGIS Enterprise platform"), ("D-02", "Parcel fabric migration"),
               ("D-03", "Open data hub")],
              "General Fund", "CC-1420", "capital", "Lena Ortiz, Planning Director"),
        _Spec("IT-2025-021", "311 Citizen Service Request System", "pm", 40, 104, d("950000.00"), 2,
              d("1.00"), d("1.00"), std,
              {"labour": ["Civic Digital Partners"], "hardware": ["SHI International"],
               "software": ["Salesforce (via Carahsoft Technology)"],
               "vendor services": ["Carahsoft Technology"], "training": ["Metro Training Partners"]},
              ["One number and one app for non-emergency requests", "Close 80% of requests within SLA"],
              "Replace the call-centre ticketing tool with a CRM-based 311 platform and mobile app.",
              [("D-01", "311 CRM platform"), ("D-02", "Citizen mobile app"), ("D-03", "Knowledge base")],
              "General Fund", "CC-1300", "operating", "Rachel Green, Customer Service Manager"),
        _Spec("IT-2025-024", "Library Network and Wi-Fi Refresh", "pm2", 24, 74, d("780000.00"), 4,
              d("0.99"), d("1.00"), std,
              {"labour": ["Civic Digital Partners"], "hardware": ["CDW Government", "Presidio"],
               "software": ["SHI International"], "vendor services": ["Presidio"],
               "training": ["City College Workforce Center"]},
              ["Gigabit Wi-Fi in all 14 branches", "Replace end-of-life switches"],
              "Network switches, wireless access points and a managed guest Wi-Fi service.",
              [("D-01", "Branch network refresh"), ("D-02", "Guest Wi-Fi service")],
              "Library Capital Fund", "CC-5100", "capital", "Paul Nguyen, Library Director",
              review="G4"),
        _Spec("IT-2026-003", "Council Meeting Video and Agenda Management", "pm", 62, 110, d("420000.00"), 1,
              d("1.00"), d("1.00"), std,
              {"labour": ["Civic Digital Partners"], "hardware": ["CDW Government"],
               "software": ["Granicus"], "vendor services": ["Granicus"], "training": ["Granicus"]},
              ["Live-streamed, captioned council meetings", "Agendas and minutes in one system"],
              "Meeting video streaming, captioning, agenda and minutes management for council and boards.",
              [("D-01", "Chamber video system"), ("D-02", "Agenda management")],
              "General Fund", "CC-1010", "operating", "Helen Park, City Clerk"),
        _Spec("IT-2026-006", "Multi-Factor Authentication Rollout", "pm2", 72, 100, d("310000.00"), 0,
              d("1.00"), d("1.00"), std,
              {"labour": ["Bluewater Data Services"], "hardware": ["SHI International"],
               "software": ["Okta"], "vendor services": ["Optiv Security"],
               "training": ["Metro Training Partners"]},
              ["MFA for every employee account", "Meet the cyber-insurance requirement"],
              "Multi-factor authentication for 4,200 staff, contractors and remote access.",
              [("D-01", "MFA for all staff")],
              "Technology Fund", "CC-1150", "operating", "Marcus Lee, Chief Information Security Officer",
              baseline=False, review="G0"),
        _Spec("IT-2025-018", "Data Center Server and Storage Refresh", "pm", 30, 86, d("1900000.00"), 3,
              d("1.01"), d("0.99"),
              [("LB-01", "Infrastructure engineers", "labour", d("0.18"), d("0.20")),
               ("HW-01", "Servers and storage arrays", "hardware", d("0.50"), d("0.50")),
               ("SW-01", "Virtualisation licences", "software", d("0.14"), d("0.14")),
               ("VS-01", "Migration services", "vendor services", d("0.12"), d("0.12")),
               ("TR-01", "Administrator training", "training", d("0.02"), d("0.02")),
               ("CT-01", "Management reserve", "contingency", d("0.08"), d("0"))],
              {"labour": ["Bluewater Data Services", "CGI Technologies and Solutions"],
               "hardware": ["Dell Technologies", "CDW Government"], "software": ["SHI International"],
               "vendor services": ["Presidio"], "training": ["Riverside Learning Group"]},
              ["Replace servers past end of support", "Halve the data-centre power draw"],
              "Hyper-converged servers, storage and backup for both city data centres.",
              [("D-01", "Primary site cluster"), ("D-02", "Secondary site cluster"),
               ("D-03", "Backup and recovery service")],
              "Technology Fund", "CC-1150", "capital", "Marcus Lee, Chief Information Security Officer"),
        _Spec("IT-2025-010", "Fleet Telematics and Fuel Management", "pm", 6, 66, d("1150000.00"), 4,
              d("1.00"), d("0.98"), std,
              {"labour": ["Civic Digital Partners", "Bluewater Data Services"],
               "hardware": ["CDW Government", "Geotab (via CDW Government)"], "software": ["Samsara"],
               "vendor services": ["Samsara"], "training": ["Metro Training Partners"]},
              ["GPS telematics on 1,100 city vehicles", "Cut fuel use by 8% through idling reports"],
              "Telematics devices, fuel-card integration and a fleet maintenance dashboard.",
              [("D-01", "Telematics devices installed"), ("D-02", "Fuel-card integration"),
               ("D-03", "Fleet dashboard")],
              "Fleet Internal Service Fund", "CC-7200", "capital", "Denise Walker, Fleet Manager"),
        _Spec("IT-2025-027", "Police Body-Worn Camera Program", "pm2", 28, 96, d("2100000.00"), 3,
              d("1.02"), d("1.01"), std,
              {"labour": ["Accenture", "Civic Digital Partners"], "hardware": ["Axon Enterprise"],
               "software": ["Axon Enterprise"], "vendor services": ["Axon Enterprise"],
               "training": ["City College Workforce Center"]},
              ["Cameras for all 640 sworn officers", "Evidence retained to the state schedule"],
              "Body-worn cameras, docking stations, cloud evidence management and redaction.",
              [("D-01", "Cameras and docks deployed"), ("D-02", "Evidence management service"),
               ("D-03", "Records retention integration")],
              "Public Safety Capital Fund", "CC-2210", "capital", "Chief Karen Holt, Emergency Communications"),
        _Spec("IT-2026-009", "Utility Billing CIS Upgrade", "pm2", 77, 140, d("3200000.00"), 0,
              d("1.00"), d("1.00"), std,
              {"labour": ["Plante Moran"], "hardware": ["Dell Technologies"], "software": ["Tyler Technologies"],
               "vendor services": ["Tyler Technologies"], "training": ["Riverside Learning Group"]},
              ["Replace the utility customer information system", "Monthly billing for 96,000 accounts"],
              "Customer information and billing system for water, sewer and solid waste.",
              [("D-01", "CIS go-live")],
              "Water and Sewer Enterprise Fund", "CC-6100", "capital", "Tom Alvarez, Utilities Director",
              baseline=False),
    ]


MILESTONE_PLAN = [  # name, start and finish as fractions of the schedule, share of BAC
    ("Requirements and design", Decimal("0.00"), Decimal("0.22"), Decimal("0.15")),
    ("Build and configuration", Decimal("0.15"), Decimal("0.60"), Decimal("0.35")),
    ("Data migration and integration", Decimal("0.35"), Decimal("0.75"), Decimal("0.15")),
    ("Testing and user acceptance", Decimal("0.55"), Decimal("0.88"), Decimal("0.20")),
    ("Deployment and training", Decimal("0.80"), Decimal("1.00"), Decimal("0.15")),
]

RISKS = [
    ("Key vendor staff turnover", "Named key personnel clause; weekly resourcing review"),
    ("Data quality of legacy records", "Data profiling sprint; cleansing owned by the business"),
    ("Integration with the financial system slips", "Early interface testing; stub services"),
    ("Hardware supply-chain delays", "Order long-lead items at G2; approved alternates"),
    ("User adoption below target", "Change champions in each department; floor-walkers at go-live"),
    ("Cybersecurity review finds gaps", "Engage the security office at design; pen-test before G3"),
    ("Budget pressure from the next fiscal year", "Phase optional scope; keep reserve untouched"),
    ("Union consultation extends timeline", "Early briefing with labour relations"),
    ("Scope creep from departments", "Change board reviews every request weekly"),
    ("Accessibility compliance (WCAG 2.1 AA)", "Accessibility testing in every sprint"),
]
ISSUES = [
    ("Test environment unavailable for a week", "high"),
    ("Vendor missed sprint demo deliverables", "medium"),
    ("Interface file format changed by upstream system", "high"),
    ("Shipment of access switches damaged in transit", "medium"),
    ("Two department SMEs reassigned to budget season", "medium"),
    ("Licence key activation failure", "low"),
    ("Performance below SLA in load test", "critical"),
]
REJECT_REASONS = [
    "missing timesheet backup for the billed hours",
    "invoice total does not match the contract rate card",
    "sales tax charged on a tax-exempt purchase",
    "invoice is not addressed to the city's accounts payable",
    "quantity billed exceeds the quantity received",
]
REVERSE_REASONS = [
    "vendor issued credit memo: duplicate billing of the same services",
    "charged to the wrong project; vendor will re-bill the correct cost centre",
    "receiving report shows partial delivery; full amount was paid",
]
ROLES_BILLED = ["Senior business analyst", "Integration developer", "Solution architect",
                "Data conversion specialist", "Test lead", "Project coordinator",
                "Network engineer", "Change-management lead"]
HARDWARE_ITEMS = ["PowerEdge R760 servers", "Access switches, 48-port", "Wireless access points",
                  "Rugged mobile data terminals", "Storage expansion shelves", "UPS units",
                  "Firewall appliances", "Docking stations and monitors"]


# The planner ---------------------------------------------------------------------------------


def _round_down(value: Decimal, step: int) -> Decimal:
    """`value` rounded down to a multiple of `step` dollars, with two places."""
    return Decimal(int(value // step) * step).quantize(CENT)


class _Planner:
    """Plans the whole history, week by week, as acts. It keeps its own books of every
    line, so that no approval it plans would overdraw one."""

    def __init__(self, rng: random.Random, week0: date, as_of: date) -> None:
        self.rng = rng
        self.week0 = week0
        self.as_of = as_of
        self.acts: list[_Act] = []
        self.invoice_counters: dict[str, int] = {}

    def day(self, week: int, weekday: int = 0) -> date:
        return self.week0 + timedelta(weeks=week, days=weekday)

    def business_day(self, week: int) -> date:
        return self.day(week, self.rng.randint(0, 4))

    def amount(self, lo: int, hi: int) -> Decimal:
        """A random amount between lo and hi dollars, in cents."""
        return (Decimal(self.rng.randint(lo * 100, hi * 100)) / 100).quantize(CENT)

    def invoice_number(self, vendor: str, when: date) -> str:
        """Each vendor numbers its invoices in its own increasing series."""
        words = vendor.replace("(", " ").split()
        prefix = "".join(w[0] for w in words if w[0].isalpha()).upper()[:4]
        n = self.invoice_counters.get(vendor) or self.rng.randint(10000, 89999)
        n += self.rng.randint(1, 29)
        self.invoice_counters[vendor] = n
        return f"{prefix}-{when.year % 100:02d}{n:06d}"


def _fiscal_pair(rng: random.Random) -> tuple[str, str]:
    """Who approves first and who second (over the two-officer threshold)."""
    return ("fiscal", "fiscal2") if rng.random() < 0.55 else ("fiscal2", "fiscal")


GATE_SIGNERS = {"G0": ["pmo", "sponsor"], "G1": ["fiscal", "pmo", "sponsor"],
                "G2": ["pmo", "sponsor"], "G3": ["pmo", "sponsor"], "G4": ["fiscal", "pmo", "sponsor"]}
GATE_ARTIFACTS = {
    "G0": ["business-case.pdf", "project-charter.pdf"],
    "G1": ["project-management-plan.pdf", "baseline-schedule.xlsx", "cost-estimate.xlsx"],
    "G2": ["signed-contract.pdf", "security-review.pdf", "resource-plan.xlsx"],
    "G3": ["uat-sign-off.pdf", "cutover-plan.pdf", "operations-handover.pdf"],
    "G4": ["closeout-report.pdf", "lessons-learned.docx", "financial-reconciliation.xlsx"],
}
# category: (owed before an invoice is sent, smallest and largest invoice) in dollars
INVOICE_SIZES = {
    "labour": (1000, 700, 3600),  # weekly timesheets, one consultant each
    "hardware": (6000, 2500, 45000),
    "software": (8000, 3000, 120000),
    "vendor services": (10000, 6000, 70000),
    "training": (1500, 800, 9000),
}
DUAL = Decimal("25000.00")  # the default policy's thresholds (the demo does not change them)
SPONSOR_TOO = Decimal("100000.00")


class _ProjectPlan:
    """One project's history: what its people do, week by week."""

    def __init__(self, planner: _Planner, spec: _Spec) -> None:
        self.p = planner
        self.s = spec
        self.rng = planner.rng
        self.code = spec.code
        self.pm = spec.pm
        self.refs: dict[str, str] = {}  # planning key -> id the ledger gave (EXP-0001, CR-001...)
        self.counter = 0
        self.start_date, self.finish_date = planner.day(spec.start), planner.day(spec.finish, 4)
        span = (self.finish_date - self.start_date).days
        self.lines: dict[str, _Line] = {}
        for code, name, category, share, spend in spec.lines:
            self.lines[code] = _Line(code, name, category, _round_down(spec.bac * share, 1000), spend,
                                     vendors=list(spec.vendors.get(category, [])))
        self.contingency = self.lines.get("CT-01")
        self.milestones: dict[str, _Milestone] = {}
        for i, (name, a, b, share) in enumerate(MILESTONE_PLAN, start=1):
            code = f"M-{i:02d}"
            self.milestones[code] = _Milestone(
                code, name, self.start_date + timedelta(days=int(span * a)),
                self.start_date + timedelta(days=int(span * b)), (spec.bac * share).quantize(CENT))
        weeks = spec.finish - spec.start
        self.gate_weeks = spec.gate_weeks or {
            "G0": spec.start + 1, "G1": spec.start + 5, "G2": spec.start + 10,
            "G3": spec.start + int(weeks * 0.82), "G4": spec.finish + 2,
        }
        self.gates_passed = 0
        self.closed = False
        self.ac = ZERO  # actual cost the planner has turned into work owed to vendors
        self.risks: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.risk_titles = self.rng.sample(RISKS, len(RISKS))  # this project's register, in order
        self.issue_titles = self.rng.sample(ISSUES, len(ISSUES))
        self.next_risk = spec.start + self.rng.randint(1, 4)
        self.next_issue = spec.start + self.rng.randint(8, 14)
        self.cr_count = 0
        self.cr_busy_until = -1  # no new change request while one is being decided
        self.to_reverse: list[tuple[int, str, Decimal, str]] = []
        self.approved: list[tuple[str, str]] = []  # (planning key, category) of approved invoices
        self.resubmit: list[tuple[str, str, Decimal, str, str, str | None]] = []

    # Helpers ---------------------------------------------------------------------------------

    def add(self, week: int, phase: int, actor: str, fn: Op) -> None:
        self.p.acts.append(_Act(week, phase, actor, self.code, fn))

    def key(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def keep(self, key: str, value: str) -> str:
        self.refs[key] = value
        return value

    def actual_percent(self, m: _Milestone, t: date) -> int:
        """Percent complete at t: the planned fraction at the point of the schedule the
        project has really reached (a project at pace 0.7 has done 7 weeks' work in 10)."""
        reached = Decimal((t - self.start_date).days) * self.s.pace
        start = Decimal((m.start - self.start_date).days)
        span = Decimal((m.finish - m.start).days)
        if span <= 0:
            return 100 if reached >= start else 0
        return max(0, min(100, int((reached - start) / span * 100)))

    def ev(self) -> Decimal:
        return sum((m.value * m.percent / 100 for m in self.milestones.values()), ZERO)

    # The week ---------------------------------------------------------------------------------

    def week(self, w: int) -> None:
        s = self.s
        if self.closed:
            self.late_reversals(w)
            return
        if w < s.start:
            return
        if w == s.start:
            self.charter(w)
            return
        if s.baseline and w in (s.start + 1, s.start + 2, s.start + 3):
            self.baseline(w, w - s.start)
        if w + 1 == self.gate_weeks["G4"] and s.passed >= 4:
            self.close_purchase_orders(w)
        self.gates(w)
        if not s.baseline or self.closed:
            return
        if self.code == "IT-2025-007" and w == 40:
            self.add(w, 0, self.pm, lambda app, a: app.amend_charter(
                a, self.code, {"business_relationship_manager": "Carlos Ruiz, Finance Director"},
                reason="Janet Moore retired; the new Finance Director owns the business case"))
        self.money(w)
        self.progress(w)
        self.risks_and_issues(w)
        self.status_report(w)
        self.change_control(w)

    # Charter and baseline ---------------------------------------------------------------------

    def charter(self, w: int) -> None:
        s, code = self.s, self.code
        fields = dict(
            code=code, title=s.title, sponsor="sponsor", project_manager=self.pm,
            business_relationship_manager=s.brm, objectives=list(s.objectives),
            scope_statement=s.scope, start_date=self.start_date, target_finish=self.finish_date,
            fund=s.fund, cost_centre=s.cost_centre, funding_type=s.funding_type,
        )
        self.add(w, 0, self.pm, lambda app, a: app.charter_project(a, **fields))

    def baseline(self, w: int, step: int) -> None:
        code = self.code
        if step == 1:
            for key, name in self.s.deliverables:
                self.add(w, 0, self.pm, lambda app, a, k=key, n=name: app.add_deliverable(
                    a, code, deliverable=k, name=n))
            for line in self.lines.values():
                self.add(w, 0, self.pm, lambda app, a, ln=line, amt=line.budget: app.add_budget_line(
                    a, code, line=ln.code, name=ln.name, category=ln.category, amount=amt))
        elif step == 2:
            for m in self.milestones.values():
                # Values bound now: the planner's milestone changes later (change requests).
                self.add(w, 0, self.pm, lambda app, a, k=m.code, n=m.name, b=m.start, f=m.finish, bv=m.value:
                         app.add_milestone(a, code, milestone=k, name=n, planned_start=b,
                                           planned_finish=f, budgeted_value=bv))
        else:
            # Refined estimate after vendor quotes: labour up, hardware down, same total.
            lb, hw = self.lines["LB-01"], self.lines["HW-01"]
            delta = _round_down(hw.budget * Decimal("0.05"), 1000)
            if delta > 0:
                lb.budget += delta
                hw.budget -= delta
                for line in (hw, lb):
                    self.add(w, 0, self.pm, lambda app, a, ln=line.code, amt=line.budget: app.revise_budget_line(
                        a, code, ln, amount=amt, reason="refined estimate after vendor quotes"))

    # Gates -------------------------------------------------------------------------------------

    def gates(self, w: int) -> None:
        s = self.s
        for gate in ("G0", "G1", "G2", "G3", "G4"):
            if self.gate_weeks[gate] != w:
                continue
            index = int(gate[1])
            if index < s.passed:
                self.gate(w, gate)
            elif index == s.passed and self.code == "IT-2025-021":
                self.rejected_then_resubmitted(w, gate)
            elif index == s.passed and s.review == gate:
                self.left_in_review(w, gate)

    def request(self, w: int, gate: str, extra: tuple[str, ...] = (), note: str = "") -> None:
        code = self.code
        docs = [{"name": f"{code}-{n}", "sha256": hashlib.sha256(f"{code}/{gate}/{n}".encode()).hexdigest()}
                for n in (*GATE_ARTIFACTS[gate], *extra)]
        note = note or f"{gate} review pack for {self.s.title}"
        self.add(w, 0, self.pm, lambda app, a: app.request_gate_review(
            a, code, gate, artifacts=docs, note=note))

    def sign(self, w: int, phase: int, who: str, gate: str, decision: str, *, conditions: str = "",
             reason: str = "") -> None:
        code = self.code
        self.add(w, phase, who, lambda app, a: app.sign_off_gate(
            a, code, gate, decision=decision, conditions=conditions, reason=reason))

    def gate(self, w: int, gate: str) -> None:
        """A review that passes: every required signer approves, in some order."""
        self.request(w, gate)
        order = list(GATE_SIGNERS[gate])
        self.rng.shuffle(order)
        conditional = self.rng.random() < 0.3 or (self.code, gate) in (("IT-2025-007", "G3"),
                                                                       ("IT-2025-012", "G0"))
        for i, signer in enumerate(order):
            if conditional and i == 0:
                text = ("budget recovery plan to the steering committee within 30 days"
                        if self.code == "IT-2025-007" else "close open medium risks within 60 days")
                self.sign(w, i + 1, signer, gate, "approved-with-conditions", conditions=text)
                self.conditions_met(w, gate, text)
            else:
                self.sign(w, i + 1, signer, gate, "approved")
        self.gates_passed += 1
        if gate == "G2":
            self.purchase_orders(w + 1)
        if gate == "G4":
            self.closed = True
            self.to_reverse.append((w + 3, "post-close", ZERO, ""))

    def conditions_met(self, w: int, gate: str, condition: str) -> None:
        """The PMO lead confirms a gate's condition is met a few weeks later, before the
        next gate -- except on the late permits portal, whose G0 condition lapses (a
        GATE-002 finding for the auditor)."""
        if self.code == "IT-2025-012" and gate == "G0":
            return
        following = [self.gate_weeks[g] for g in GATE_ARTIFACTS if g > gate]
        when = min([w + 3, *(x - 1 for x in following if x - 1 > w)])
        if when >= WEEKS:
            return
        reason = {"budget recovery plan to the steering committee within 30 days":
                  "recovery plan presented to the IT steering committee and minuted"}.get(
                      condition, "risk register reviewed: no open medium risks remain")
        self.add(when, 0, "pmo", lambda app, a: app.record_gate_conditions_met(
            a, self.code, gate, conditions=[condition], reason=reason))

    def left_in_review(self, w: int, gate: str) -> None:
        """Requested near the end of the history: one sign-off given, the others pending."""
        self.request(w, gate)
        text = {"G0": "security office to confirm the rollout plan before G1",
                "G4": "final vendor invoice to be reconciled before the project is archived"}.get(
                    gate, "open medium risks to be closed before go-live")
        self.sign(w, 1, GATE_SIGNERS[gate][0], gate, "approved-with-conditions", conditions=text)

    def rejected_then_resubmitted(self, w: int, gate: str) -> None:
        """The sponsor sends the review back; it is resubmitted and is under review again."""
        self.request(w, gate)
        self.sign(w, 1, "pmo", gate, "approved")
        self.sign(w, 2, "sponsor", gate, "rejected",
                  reason="the vendor contract is not yet executed; resubmit with the signed contract")
        again = min(w + 8, WEEKS - 1)
        self.request(again, gate, extra=("executed-contract.pdf",),
                     note="resubmitted with the executed contract")
        self.sign(again, 1, "pmo", gate, "approved")

    # Purchase orders -----------------------------------------------------------------------------

    def purchase_orders(self, w: int) -> None:
        code = self.code
        for line in self.lines.values():
            if line.category not in ("hardware", "software", "vendor services") or not line.vendors:
                continue
            amount = _round_down(line.available * Decimal(self.rng.randint(55, 80)) / 100, 100)
            if amount <= 0:
                continue
            po = f"PO-{code[3:7]}{self.rng.randint(10000, 99999)}"
            vendor, description = line.vendors[0], f"Master agreement: {line.category} for {self.s.title}"
            line.po, line.po_remaining, line.po_open_week = po, amount, w
            line.committed += amount
            self.add(w, 0, self.pm, lambda app, a, po=po, v=vendor, ln=line.code, amt=amount, d=description:
                     app.submit_commitment(a, code, po_number=po, vendor=v, line=ln, amount=amt, description=d))
            self.approvals(w, amount, lambda app, a, po=po: app.approve_commitment(a, code, po))

    def close_purchase_orders(self, w: int) -> None:
        """Before closeout every open PO is closed; its unused rest goes back to the line."""
        code = self.code
        for line in self.lines.values():
            if line.po is None:
                continue
            line.committed -= line.po_remaining
            line.po_remaining = ZERO
            self.add(w, 0, self.pm, lambda app, a, po=line.po: app.close_commitment(
                a, code, po, reason="final invoice received; remaining encumbrance released"))
            line.po = None

    def approvals(self, w: int, amount: Decimal, approve: Op, first: str | None = None) -> None:
        """One fiscal officer (`first`, else drawn); over 25,000 a second one; over 100,000
        then the sponsor."""
        if first is None:
            first, second = _fiscal_pair(self.rng)
        else:
            second = "fiscal2" if first == "fiscal" else "fiscal"
        self.add(w, 1, first, approve)
        if amount > DUAL:
            self.add(w, 2, second, approve)
        if amount > SPONSOR_TOO:
            self.add(w, 3, "sponsor", approve)

    # Spending -------------------------------------------------------------------------------------

    def money(self, w: int) -> None:
        # Work done, at the project's cost factor, becomes owed to the vendors of each line.
        target = self.ev() * self.s.cost_factor
        if w < self.s.start + 10:
            # Before execution: the planners and analysts of the first weeks.
            target = max(target, self.s.bac * Decimal("0.004") * (w - self.s.start))
        if target > self.ac:
            for line in self.lines.values():
                line.owed += ((target - self.ac) * line.share).quantize(CENT)
            self.ac = target
        for item in list(self.resubmit):
            self.resubmit.remove(item)
            self.invoice(w, *item)
        for line in list(self.lines.values()):
            self.bill(w, line)
        for item in [x for x in self.to_reverse if x[0] == w]:
            self.to_reverse.remove(item)
            _, key, amount, line_code = item
            self.lines[line_code].spent -= amount
            reason = self.rng.choice(REVERSE_REASONS)
            self.add(w, 4, "fiscal", lambda app, a, k=key, why=reason: app.reverse_expenditure(
                a, self.code, self.refs[k], reason=why))

    def late_reversals(self, w: int) -> None:
        """After closeout only fiscal corrections are possible: a vendor credit memo."""
        for item in [x for x in self.to_reverse if x[0] == w]:
            self.to_reverse.remove(item)
            software = [k for k, category in self.approved if category == "software"]
            if not (software or self.approved):
                continue
            key = software[-1] if software else self.approved[-1][0]
            self.add(w, 4, "fiscal", lambda app, a, k=key: app.reverse_expenditure(
                a, self.code, self.refs[k],
                reason="vendor credit memo CM-20417 received after closeout: duplicate licence charge"))

    def bill(self, w: int, line: _Line) -> None:
        if line.category not in INVOICE_SIZES or not line.vendors:
            return
        minimum, lo, hi = INVOICE_SIZES[line.category]
        while line.owed >= minimum:
            amount = min(line.owed, self.p.amount(lo, hi))
            vendor = self.rng.choice(line.vendors)
            # Cited from the second week: the PO's approval is recorded the week after it.
            cite = line.po is not None and w > line.po_open_week + 1 and amount <= line.po_remaining
            po = line.po if cite else None
            if po is None and amount > line.available:
                self.find_money(w, line, amount)
                return  # billed in a later week, once the money has moved
            line.owed -= amount
            self.invoice(w, line.code, vendor, amount, self.p.invoice_number(vendor, self.p.day(w)),
                         self.describe(line, w), po)

    def find_money(self, w: int, line: _Line, amount: Decimal) -> None:
        """Move budget to a line that ran short: a transfer from the reserve, or (once the
        baseline is locked and the reserve is spent) a change request."""
        if w <= self.cr_busy_until:
            return
        code, ct = self.code, self.contingency
        need = _round_down(amount - line.available + line.budget * Decimal("0.06"), 1000) + 1000
        if ct is not None and ct.available >= need:
            ct.budget -= need
            line.budget += need
            key = self.key("tr")
            reason = f"{line.name} running short: move {need:,.2f} from the management reserve"
            self.add(w, 0, self.pm, lambda app, a, ln=line.code, amt=need: self.keep(key, app.request_budget_transfer(
                a, code, from_line="CT-01", to_line=ln, amount=amt, reason=reason)))
            # The thresholds of expenditures apply; the first approver is drawn as it was
            # before they did, so the rest of the portfolio stays the same.
            self.approvals(w, need, lambda app, a: app.approve_budget_transfer(
                a, code, self.refs[key], reason="reserve available; within the PM's authority"),
                first=self.rng.choice(["fiscal", "fiscal2"]))
            return
        if self.gates_passed < 2:
            return
        need = _round_down(need * 3, 10000)
        line.budget += need
        key = self.key("cr")
        self.cr_busy_until = w
        title = f"Additional funding for {line.name.lower()}"
        self.add(w, 0, self.pm, lambda app, a, ln=line.code, amt=need: self.keep(key, app.submit_change_request(
            a, code, title=title, description=f"Increase {ln} by {amt:,.2f}.",
            justification="Actual effort exceeds the estimate; the management reserve is exhausted.",
            cost_impacts=[{"line": ln, "amount": amt}])))
        self.add(w, 2, "sponsor", lambda app, a: app.approve_change_request(
            a, code, self.refs[key], reason="approved by the IT steering committee"))

    def describe(self, line: _Line, w: int) -> str:
        friday = self.p.day(w, 4)
        if line.category == "labour":
            return f"Professional services: {self.rng.choice(ROLES_BILLED)}, week ending {friday.isoformat()}"
        if line.category == "hardware":
            return f"{self.rng.choice(HARDWARE_ITEMS)} ({self.rng.randint(2, 40)} units)"
        if line.category == "software":
            return f"Subscription licences, {friday.strftime('%B %Y')}"
        if line.category == "training":
            return f"Training sessions, {self.rng.randint(6, 30)} attendees"
        return f"Implementation services, {friday.strftime('%B %Y')} milestone billing"

    def invoice(self, w: int, line: str, vendor: str, amount: Decimal, number: str,
                description: str, po: str | None) -> None:
        code, key, state = self.code, self.key("exp"), self.lines[line]
        invoice_date = self.p.business_day(w)
        if po is not None:
            state.po_remaining -= amount
            state.committed -= amount
        state.spent += amount
        sha = hashlib.sha256(f"{vendor}|{number}|{amount}|{invoice_date}".encode()).hexdigest()
        self.add(w, 0, self.pm, lambda app, a: self.keep(key, app.submit_expenditure(
            a, code, line=line, amount=amount, vendor=vendor, invoice_number=number,
            invoice_date=invoice_date, description=description, po_number=po, document_sha256=sha)))
        if w >= WEEKS - 1:
            return  # this week's invoices wait in the fiscal officers' queue
        if self.rng.random() < 0.025:
            # Rejected; the PM resubmits a corrected invoice the next week.
            state.spent -= amount
            if po is not None:
                state.po_remaining += amount
                state.committed += amount
            reason = self.rng.choice(REJECT_REASONS)
            self.add(w, 1, _fiscal_pair(self.rng)[0], lambda app, a: app.reject_expenditure(
                a, code, self.refs[key], reason=reason))
            self.resubmit.append((line, vendor, amount, number + "-R1", description, po))
            return
        self.approvals(w, amount, lambda app, a: app.approve_expenditure(a, code, self.refs[key]))
        if po is None and self.rng.random() < 0.004:
            self.to_reverse.append((w + self.rng.randint(1, 3), key, amount, line))
        else:
            self.approved.append((key, state.category))

    # Progress ----------------------------------------------------------------------------------

    def progress(self, w: int) -> None:
        if w < self.s.start + 3:
            return  # the milestones enter the baseline in the second week
        code, wednesday, friday = self.code, self.p.day(w, 2), self.p.day(w, 4)
        for m in self.milestones.values():
            if m.accepted:
                continue
            if m.percent == 100:
                m.accepted = True
                self.add(w, 4, "sponsor", lambda app, a, m=m.code: app.accept_milestone(
                    a, code, m, accepted_on=wednesday, reason="user acceptance signed"))
                continue
            percent = self.actual_percent(m, friday)
            if percent <= m.percent:
                continue
            m.percent = percent
            note = "complete" if percent == 100 else ""
            self.add(w, 0, self.pm, lambda app, a, m=m.code, pc=percent, n=note: app.report_progress(
                a, code, m, percent=pc, as_of=friday, note=n))

    # Risks and issues ---------------------------------------------------------------------------

    def risks_and_issues(self, w: int) -> None:
        code, rng = self.code, self.rng
        owner = self.s.brm.split(",")[0]
        if w >= self.next_risk and len(self.risks) < len(RISKS):
            title, mitigation = self.risk_titles[len(self.risks)]
            risk = {"key": self.key("risk"), "p": rng.randint(2, 4), "i": rng.randint(2, 5),
                    "status": "open", "review": w + rng.randint(3, 6)}
            self.risks.append(risk)
            self.add(w, 0, self.pm, lambda app, a, k=risk["key"], pr=risk["p"], im=risk["i"], t=title, mi=mitigation:
                     self.keep(k, app.raise_risk(a, code, title=t, probability=pr, impact=im, owner=owner,
                                                 mitigation=mi)))
            self.next_risk = w + rng.randint(5, 10)
        for risk in self.risks:
            if risk["status"] == "closed" or w < risk["review"]:
                continue
            risk["review"] = w + rng.randint(2, 5)
            if rng.random() < 0.25:
                risk["status"] = "closed"
                self.add(w, 0, self.pm, lambda app, a, k=risk["key"]: app.close_risk(
                    a, code, self.refs[k], reason="mitigation complete; exposure no longer material"))
                continue
            prob = max(1, min(5, risk["p"] + rng.choice([-1, -1, 0, 1])))
            impact = max(1, min(5, risk["i"] + rng.choice([-1, 0, 0, 1])))
            if (prob, impact, "mitigating") == (risk["p"], risk["i"], risk["status"]):
                prob = prob - 1 if prob > 1 else prob + 1
            risk.update(p=prob, i=impact, status="mitigating")
            self.add(w, 0, self.pm, lambda app, a, k=risk["key"], pr=prob, im=impact: app.update_risk(
                a, code, self.refs[k], probability=pr, impact=im, status="mitigating",
                reason="monthly risk review"))
        if w >= self.next_issue:
            title, severity = self.issue_titles[len(self.issues) % len(ISSUES)]
            issue = {"key": self.key("issue"), "resolve": w + rng.randint(2, 6)}
            self.issues.append(issue)
            self.add(w, 0, self.pm, lambda app, a, k=issue["key"], t=title, sv=severity: self.keep(k, app.raise_issue(
                a, code, title=t, description=f"{t}; impact on the current sprint under review.",
                severity=sv, owner=owner)))
            if severity in ("high", "critical"):
                self.add(w + 1, 0, self.pm, lambda app, a, k=issue["key"]: app.escalate_issue(
                    a, code, self.refs[k], to="sponsor", reason="needs a decision above the project"))
            self.next_issue = w + rng.randint(8, 16)
        for issue in self.issues:
            if issue["resolve"] == w:
                self.add(w, 0, self.pm, lambda app, a, k=issue["key"]: app.resolve_issue(
                    a, code, self.refs[k], resolution="workaround in place; root cause fixed by the vendor"))

    # Status reports ---------------------------------------------------------------------------

    def status_report(self, w: int) -> None:
        monday = self.p.day(w)
        if monday.day > 7:
            return
        end = monday.replace(day=1) - timedelta(days=1)
        start = max(end.replace(day=1), self.start_date)
        if end < start:
            return
        self.add(w, 0, self.pm, lambda app, a: _publish(app, a, self.code, start, end))

    # Change control ---------------------------------------------------------------------------

    def change_control(self, w: int) -> None:
        """Change requests at a steady rhythm once execution starts: approved, rejected,
        approved, withdrawn... each asking for more vendor time and two more weeks of UAT."""
        code = self.code
        if code == "IT-2025-012" and w == WEEKS - 2:
            self.rebaseline_request(w)
            return
        if self.gates_passed < 3 or (w - self.gate_weeks["G2"]) % 9 != 4 or w <= self.cr_busy_until:
            return
        m = self.milestones["M-04"]
        if m.accepted or m.percent > 0:
            return
        key = self.key("cr")
        self.cr_busy_until = w + 1
        outcome = ("approved", "rejected", "approved", "withdrawn")[self.cr_count % 4]
        self.cr_count += 1
        if self.cr_count == 1 and code == "IT-2025-018":
            cost = [{"line": "SW-02", "amount": Decimal("85000.00"), "name": "Backup software",
                     "category": "software"}]
        else:
            cost = [{"line": "VS-01", "amount": Decimal(self.rng.randint(15, 60) * 1000).quantize(CENT)}]
        new_finish = m.finish + timedelta(days=14)
        schedule = [{"milestone": "M-04", "planned_finish": new_finish}]
        title = {1: "Additional interface to the asset management system",
                 2: "Extend user acceptance testing by two weeks",
                 3: "Add accessibility remediation sprint"}.get(self.cr_count, "Scope adjustment")
        self.add(w, 0, self.pm, lambda app, a: self.keep(key, app.submit_change_request(
            a, code, title=title, description=f"{title}, requested by the business owner.",
            justification="Required for the department to accept the system.",
            cost_impacts=cost, schedule_impacts=schedule, scope_impact=title)))
        if outcome == "approved":
            m.finish = new_finish
            for impact in cost:
                if impact["line"] in self.lines:
                    self.lines[impact["line"]].budget += impact["amount"]
                else:
                    self.lines[impact["line"]] = _Line(impact["line"], impact["name"], impact["category"],
                                                       impact["amount"], ZERO)
            self.add(w, 2, "sponsor", lambda app, a: app.approve_change_request(
                a, code, self.refs[key], reason="benefits justify the cost"))
        elif outcome == "rejected":
            self.add(w, 2, "sponsor", lambda app, a: app.reject_change_request(
                a, code, self.refs[key], reason="defer to phase 2; no funding this fiscal year"))
        else:
            self.add(w + 1, 0, self.pm, lambda app, a: app.withdraw_change_request(
                a, code, self.refs[key], reason="the department found a workaround"))

    def rebaseline_request(self, w: int) -> None:
        """The late project asks to re-baseline its schedule; the sponsor has not decided."""
        code = self.code
        moves = [{"milestone": m.code, "planned_finish": m.finish + timedelta(weeks=16)}
                 for m in self.milestones.values() if not m.accepted and m.percent < 100]
        if moves:
            self.add(w, 0, self.pm, lambda app, a: app.submit_change_request(
                a, code, title="Re-baseline the schedule after the vendor staffing shortfall",
                description="Move the remaining milestones by 16 weeks.",
                justification="The vendor replaced two developers; the original dates cannot be met.",
                schedule_impacts=moves))


def _publish(app: UnitOfWork, actor: Actor, code: str, start: date, end: date) -> str:
    """A status report whose RAG follows the earned-value figures and the policy's bands."""
    project, rules = app.project(code), app.rules()
    f = figures(project, end)
    budget = rules.band(f["cpi"]) or "green"
    schedule = rules.band(f["spi"]) or "green"
    scope = "amber" if any(cr["status"] == "pending" for cr in project.change_requests.values()) else "green"
    overall = max((budget, schedule, scope), key=("green", "amber", "red").index)
    cpi = "n/a" if f["cpi"] is None else f["cpi"]
    spi = "n/a" if f["spi"] is None else f["spi"]
    summary = (f"{calendar.month_name[end.month]} {end.year}: spent {f['spent']:,.2f} of "
               f"{f['budget']:,.2f}; CPI {cpi}, SPI {spi}.")
    return app.publish_status_report(actor, code, period_start=start, period_end=end, overall=overall,
                                     schedule=schedule, budget=budget, scope=scope, summary=summary)


# Recorded times -------------------------------------------------------------------------------


def _office_time(monday: date, hours: float) -> datetime:
    """The instant `hours` office hours into the working week starting `monday`."""
    first, last = OFFICE_HOURS_UTC
    day = min(int(hours // (last - first)), 4)
    start = datetime.combine(monday + timedelta(days=day), time(first), tzinfo=UTC)
    return start + timedelta(hours=hours - day * (last - first))


def _office_hours_before(monday: date, limit: datetime) -> float:
    """How many office hours of the week starting `monday` lie before `limit`."""
    first, last = OFFICE_HOURS_UTC
    total = 0.0
    for day in range(5):
        opens = datetime.combine(monday + timedelta(days=day), time(first), tzinfo=UTC)
        closes = opens + timedelta(hours=last - first)
        total += max(0.0, (min(closes, limit) - opens).total_seconds() / 3600)
    return total


def _schedule(acts: list[_Act], week0: date, limit: datetime) -> None:
    """Give every act its recorded time: a week's acts spread over the office hours of the
    next working week, in playing order; the last week only over the office hours before
    `limit` (the moment of seeding); never going backwards."""
    last = datetime.combine(week0 - timedelta(days=3), time(OFFICE_HOURS_UTC[1]), tzinfo=UTC)
    for week, group in groupby(acts, key=lambda a: a.week):
        items = list(group)
        monday = week0 + timedelta(weeks=week + 1)
        hours = min(_office_hours_before(monday, limit), 5 * (OFFICE_HOURS_UTC[1] - OFFICE_HOURS_UTC[0]))
        if hours > 0:
            times = [_office_time(monday, hours * (i + 0.5) / len(items)) for i in range(len(items))]
        else:  # seeding before the office opens on the Monday after the history
            lo = max(last, limit - timedelta(hours=2))
            times = [lo + (limit - lo) * (i + 1) / (len(items) + 1) for i in range(len(items))]
        for act, at in zip(items, times, strict=True):
            last = act.at = max(at, last)


def _setup_times(week0: date) -> Callable[[], datetime]:
    """The people, roles and policy: the Friday afternoon before the first week, a few
    minutes apart."""
    start = datetime.combine(week0 - timedelta(days=3), time(OFFICE_HOURS_UTC[0] + 2), tzinfo=UTC)
    ticks = iter(range(10_000))
    return lambda: start + timedelta(minutes=2 * next(ticks))


# Entry points ---------------------------------------------------------------------------------


def _week0(as_of: date) -> date:
    """The Monday the history starts: WEEKS weeks before the week of `as_of`."""
    return as_of - timedelta(days=as_of.weekday(), weeks=WEEKS)


def plan_demo(*, seed: int = 2026, as_of: date | None = None,
              now: datetime | None = None) -> list[_Act]:
    """The demo's project acts in the order they are played, each with the (simulated)
    time it is recorded at: never after `now` (default: the real time) or the end of
    `as_of`."""
    as_of = as_of or date.today()
    planner = _Planner(random.Random(seed), _week0(as_of), as_of)
    plans = [_ProjectPlan(planner, spec) for spec in _portfolio()]
    for w in range(WEEKS):
        for plan in plans:
            plan.week(w)
    order = {plan.code: i for i, plan in enumerate(plans)}
    people = {username: i for i, (username, *_rest) in enumerate(DEMO_PEOPLE)}
    # Follow-ups planned for the week after the history (an escalation, a withdrawal) are
    # left for the users to do.
    planner.acts = [a for a in planner.acts if a.week < WEEKS]
    # Within a week and a project: by phase (submit, first approval, second...), then by
    # person, so one person's acts of a phase form one batch; the sort is stable.
    planner.acts.sort(key=lambda a: (a.week, order[a.code], a.phase, people[a.actor]))
    end_of_day = datetime.combine(as_of, time(23, 59), tzinfo=UTC)
    _schedule(planner.acts, planner.week0, min(now or datetime.now(UTC), end_of_day))
    return planner.acts


def seed_demo(
    app: PMOApplication, root: Signer, *, passphrase: str, password: str = "demo",
    progress: Callable[[int, int], None] | None = None, seed: int = 2026,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Seed the demo portfolio into a freshly initialised ledger (it holds the key ring only).

    One person per role -- admin, pm, pm2, fiscal, fiscal2, sponsor, pmo, auditor -- with
    `password`; their signing keys are held by the server under `passphrase`. The history
    ends the week before `as_of` (default today). `progress(done, total)` is called as
    the work advances. Returns a summary: people (username, name, role), project codes,
    the log size and the number of saves.

    Every act is recorded at a simulated time of the history (see the module docstring);
    nothing else is simulated: the same commands, checks and signatures as for real."""
    as_of = as_of or date.today()
    app.seal_snapshots_with(root)  # the demo's snapshots, sealed by the root key
    acts = plan_demo(seed=seed, as_of=as_of)
    tick = _Ticker(2 * len(DEMO_PEOPLE) + len(acts), progress)
    setup = _setup_times(_week0(as_of))
    with clock.simulated(setup):
        actors = _people(app, root, passphrase, password, tick)
    moment = [setup()]
    saves = 0
    with clock.simulated(lambda: moment[0]):
        for (username, code), run in groupby(acts, key=lambda a: (a.actor, a.code)):
            batch = list(run)
            actor = actors[username]

            def work(unit: UnitOfWork, batch: list[_Act] = batch, actor: Actor = actor) -> None:
                for act in batch:
                    assert act.at is not None
                    moment[0] = act.at
                    act.fn(unit, actor)

            app.batch(actor, code, work)
            saves += 1
            tick(len(batch))
    return {
        "people": [(username, name, role) for username, name, role, _ in DEMO_PEOPLE],
        "projects": sorted({act.code for act in acts}),
        "events": app.size(),
        "saves": saves,
    }


class _Ticker:
    """Calls `progress(done, total)` every 50 steps and at the end."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self, n: int = 1) -> None:
        for _ in range(n):
            self.done += 1
            if self.progress is not None and (self.done % 50 == 0 or self.done == self.total):
                self.progress(self.done, self.total)


def _people(app: PMOApplication, root: Signer, passphrase: str, password: str,
            tick: _Ticker) -> dict[str, Actor]:
    """The administrator (bootstrapped by the root key), one person per role, and the
    finance directive that sets the review deadline; returns an Actor per username."""
    admin_username, admin_name, _, _ = DEMO_PEOPLE[0]
    admin = app.bootstrap(root, username=admin_username, name=admin_name, passphrase=passphrase,
                          password=password, email=_email(admin_name))
    tick()
    for username, name, role, title in DEMO_PEOPLE[1:]:
        app.enrol_person(admin, username=username, name=name, passphrase=passphrase,
                         password=password, email=_email(name), reason=title)
        tick()
        app.grant_role(admin, username, role, reason=title, passphrase=passphrase)
        tick()
    actors = {username: app.actor(username, passphrase) for username, *_ in DEMO_PEOPLE[1:]}
    app.change_policy(actors["pmo"], {"pending_days_limit": 10},
                      reason="Finance directive FY26-03: invoices reviewed within 10 days")
    tick()
    return actors


def _email(name: str) -> str:
    words = name.lower().split()
    return f"{words[0]}.{words[-1]}@city.example.gov"


__all__ = ["DEMO_MARKER", "DEMO_PEOPLE", "demo_present", "plan_demo", "seed_demo"]
