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

How it is fast: the whole history is first planned as a list of small acts, then played
in batches. A batch is a run of acts by one person on one project; it is decided by the
project aggregate's own command methods (the same rules and the same events as the
`PMOApplication` commands) and saved once, signed by that person. The person's right to
act is checked once per (person, project, kind of act) with the service's own check,
and the project aggregates stay in memory between batches (the seeder is the only
writer while it runs).
"""

from __future__ import annotations

import calendar
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from domain.common import Who
from domain.earned_value import figures
from domain.policy import Rules
from domain.project import Project
from domain.services import Actor, PMOApplication
from ledger.keys import Signer

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
WEEKS = 78  # about eighteen months of history

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
DEMO_MARKER = "IT-2025-004"  # the first project the demo charters

Op = Callable[[Project, Who, Rules], Any]


# Who may do what (roles, action, approving): the same arguments the service passes. ----------

PM = (("pm",), "act as project manager", False)
FISCAL = (("fiscal",), "approve budget transfers", True)
FISCAL_OR_SPONSOR = (("fiscal", "sponsor"), "approve expenditures and commitments", True)
SPONSOR = (("sponsor",), "accept milestones", True)
SIGNOFF = (None, "sign off gates", True)
REVERSER = (("fiscal",), "reverse expenditures", True)


@dataclass
class _Act:
    week: int
    phase: int  # order within a project's week: submit, 1st approval, 2nd, 3rd, later
    actor: str
    code: str
    perm: tuple[tuple[str, ...] | None, str, bool]
    fn: Op | None = None
    service: Callable[[], Any] | None = None  # a command that goes through the service


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
              d("1.22"), d("0.97"),
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
              "Library Capital Fund", "CC-5100", "capital", "Paul Nguyen, Library Director"),
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


class _Planner:
    """Plans the whole history, week by week, as acts; keeps its own books so that no
    approval it plans would be refused."""

    def __init__(self, rng: random.Random, week0: date, as_of: date) -> None:
        self.rng = rng
        self.week0 = week0
        self.as_of = as_of
        self.acts: list[_Act] = []
        self.invoice_counters: dict[str, int] = {}
        self.refs: dict[str, dict[str, str]] = {}  # project code -> planning key -> id

    # Calendar -----------------------------------------------------------------------------

    def day(self, week: int, weekday: int = 0) -> date:
        return self.week0 + timedelta(weeks=week, days=weekday)

    def bday(self, week: int) -> date:
        return self.day(week, self.rng.randint(0, 4))

    # Money -----------------------------------------------------------------------------------

    def amount(self, lo: int, hi: int) -> Decimal:
        """A random amount in whole dollars lo..hi, with cents."""
        return (Decimal(self.rng.randint(lo * 100, hi * 100)) / 100).quantize(CENT)

    def invoice_number(self, vendor: str) -> str:
        prefix = "".join(w[0] for w in vendor.replace("(", " ").split() if w[0].isalpha()).upper()[:4]
        n = self.invoice_counters.get(vendor)
        if n is None:
            n = self.rng.randint(10000, 89999)
        n += self.rng.randint(1, 29)
        self.invoice_counters[vendor] = n
        return f"{prefix}-{self.as_of.year % 100:02d}{n:06d}"

    def add(self, week: int, phase: int, actor: str, code: str, perm: tuple, fn: Op) -> None:
        self.acts.append(_Act(week, phase, actor, code, perm, fn=fn))


def _fiscal_pair(rng: random.Random) -> tuple[str, str]:
    return ("fiscal", "fiscal2") if rng.random() < 0.55 else ("fiscal2", "fiscal")


class _ProjectPlan:
    """One project's history."""

    def __init__(self, planner: _Planner, spec: _Spec) -> None:
        self.p = planner
        self.s = spec
        self.rng = planner.rng
        self.code = spec.code
        self.refs: dict[str, str] = planner.refs.setdefault(spec.code, {})
        weeks = spec.finish - spec.start
        self.weeks = weeks
        start, finish = planner.day(spec.start), planner.day(spec.finish, 4)
        self.start_date, self.finish_date = start, finish
        span = (finish - start).days
        self.lines: dict[str, _Line] = {}
        contingency = None
        for code, name, category, share, spend in spec.lines:
            budget = (spec.bac * share).quantize(Decimal("1000"), rounding=ROUND_DOWN).quantize(CENT)
            line = _Line(code, name, category, budget, spend, vendors=list(spec.vendors.get(category, [])))
            self.lines[code] = line
            if category == "contingency":
                contingency = line
        self.contingency = contingency
        self.milestones: dict[str, _Milestone] = {}
        for i, (name, a, b, share) in enumerate(MILESTONE_PLAN, start=1):
            ms = start + timedelta(days=int(span * a))
            mf = start + timedelta(days=int(span * b))
            self.milestones[f"M-{i:02d}"] = _Milestone(f"M-{i:02d}", name, ms, mf, (spec.bac * share).quantize(CENT))
        g = spec.gate_weeks or {
            "G0": spec.start + 1, "G1": spec.start + 5, "G2": spec.start + 10,
            "G3": spec.start + int(weeks * 0.82), "G4": spec.finish + 2,
        }
        self.gate_weeks = g
        self.gates_passed = 0
        self.closed = False
        self.ac = ZERO
        self.risks: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.next_risk = spec.start + self.rng.randint(1, 4)
        self.next_issue = spec.start + self.rng.randint(8, 14)
        self.cr_count = 0
        self.tr_count = 0
        self.pending_crs: list[str] = []
        self.to_reverse: list[tuple[int, str, Decimal, str]] = []
        self.resubmit: list[tuple[str, str, Decimal, str, str, str | None]] = []

    # Helpers ---------------------------------------------------------------------------------

    def add(self, week: int, phase: int, actor: str, perm: tuple, fn: Op) -> None:
        self.p.add(week, phase, actor, self.code, perm, fn)

    def key(self, kind: str) -> str:
        return f"{kind}{len(self.refs)}-{self.rng.randint(0, 10**9)}"

    def actual_percent(self, m: _Milestone, t: date) -> int:
        """Percent complete at t: planned fraction, at the project's pace."""
        span = (m.finish - m.start).days or 1
        done = Decimal((t - m.start).days) * self.s.pace / Decimal(span)
        return max(0, min(100, int(done * 100)))

    def ev(self) -> Decimal:
        return sum((m.value * m.percent / 100 for m in self.milestones.values()), ZERO)

    # The week -------------------------------------------------------------------------------

    def week(self, w: int) -> None:
        s = self.s
        if w < s.start or self.closed:
            if self.closed:
                self.late_reversals(w)
            return
        if w == s.start:
            self.charter(w)
            return
        if s.baseline and w in (s.start + 1, s.start + 2, s.start + 3):
            self.baseline(w, w - s.start)
        self.gates(w)
        if not s.baseline:
            return
        self.money(w)
        self.progress(w)
        self.risks_and_issues(w)
        self.status_report(w)
        self.change_control(w)

    # Charter and baseline -----------------------------------------------------------------

    def charter(self, w: int) -> None:
        s, pm = self.s, self.s.pm
        fields = dict(
            code=s.code, title=s.title, sponsor="sponsor", project_manager=pm,
            business_relationship_manager=s.brm, objectives=list(s.objectives),
            scope_statement=s.scope, start_date=self.start_date,
            target_finish=self.finish_date, fund=s.fund, cost_centre=s.cost_centre,
            funding_type=s.funding_type,
        )
        self.p.acts.append(_Act(w, 0, pm, s.code, PM, fn=None, service=lambda app, actors: app.charter_project(
            actors[pm], **fields)))

    def baseline(self, w: int, step: int) -> None:
        pm = self.s.pm
        if step == 1:
            for key, name in self.s.deliverables:
                self.add(w, 0, pm, PM, lambda p, who, r, k=key, n=name: p.add_deliverable(
                    deliverable=k, name=n, description="", by=who))
            for line in self.lines.values():
                self.add(w, 0, pm, PM, lambda p, who, r, ln=line: p.add_budget_line(
                    line=ln.code, name=ln.name, category=ln.category, amount=ln.budget, by=who))
        elif step == 2:
            for m in self.milestones.values():
                self.add(w, 0, pm, PM, lambda p, who, r, m=m: p.add_milestone(
                    milestone=m.code, name=m.name, planned_start=m.start, planned_finish=m.finish,
                    budgeted_value=m.value, by=who))
        else:
            # Refined estimate after vendor quotes: labour up, hardware down, same total.
            lb, hw = self.lines["LB-01"], self.lines["HW-01"]
            delta = (hw.budget * Decimal("0.05")).quantize(Decimal("1000"), rounding=ROUND_DOWN)
            if delta > 0:
                lb.budget += delta
                hw.budget -= delta
                for line in (lb, hw):
                    self.add(w, 0, pm, PM, lambda p, who, r, ln=line.code, amt=line.budget: p.revise_budget_line(
                        line=ln, amount=amt, name=None, category=None, by=who,
                        reason="refined estimate after vendor quotes"))

    # Gates ----------------------------------------------------------------------------------

    def gates(self, w: int) -> None:
        s = self.s
        for gate in ("G0", "G1", "G2", "G3", "G4"):
            if self.gate_weeks[gate] != w:
                continue
            index = int(gate[1])
            if index > s.passed or (index == s.passed and s.review != gate and not self.extra_review(gate)):
                return
            self.gate(w, gate, passes=index < s.passed)

    def extra_review(self, gate: str) -> bool:
        # The 311 system: G2 was rejected once and is back under review.
        return self.code == "IT-2025-021" and gate == "G2"

    def gate(self, w: int, gate: str, *, passes: bool) -> None:
        pm = self.s.pm
        artifacts = {
            "G0": ["business-case.pdf", "project-charter.pdf"],
            "G1": ["project-management-plan.pdf", "baseline-schedule.xlsx", "cost-estimate.xlsx"],
            "G2": ["signed-contract.pdf", "security-review.pdf", "resource-plan.xlsx"],
            "G3": ["uat-sign-off.pdf", "cutover-plan.pdf", "operations-handover.pdf"],
            "G4": ["closeout-report.pdf", "lessons-learned.docx", "financial-reconciliation.xlsx"],
        }[gate]
        docs = [{"name": f"{self.code}-{n}",
                 "sha256": hashlib.sha256(f"{self.code}/{gate}/{n}".encode()).hexdigest()}
                for n in artifacts]
        self.add(w, 0, pm, PM, lambda p, who, r: p.request_gate_review(
            gate=gate, artifacts=docs, note=f"{gate} review pack for {self.s.title}", by=who))
        signers = {"G0": ["pmo", "sponsor"], "G1": ["fiscal", "pmo", "sponsor"], "G2": ["pmo", "sponsor"],
                   "G3": ["pmo", "sponsor"], "G4": ["fiscal", "pmo", "sponsor"]}[gate]
        if self.extra_review(gate) and not passes:
            # First round rejected by the sponsor; resubmitted two weeks later.
            self.add(w, 1, "pmo", SIGNOFF, lambda p, who, r: _sign(p, who, r, gate, "approved"))
            self.add(w, 2, "sponsor", SIGNOFF, lambda p, who, r: _sign(
                p, who, r, gate, "rejected",
                reason="the Carahsoft contract is not yet executed; resubmit with the signed contract"))
            again = min(w + 8, WEEKS - 1)
            self.add(again, 0, pm, PM, lambda p, who, r: p.request_gate_review(
                gate=gate, artifacts=docs + [{"name": f"{self.code}-executed-contract.pdf"}],
                note="resubmitted with the executed contract", by=who))
            self.add(again, 1, "pmo", SIGNOFF, lambda p, who, r: _sign(p, who, r, gate, "approved"))
            return
        if not passes:
            # Left under review: one sign-off given, the others pending.
            first = signers[0]
            self.add(w, 1, first, SIGNOFF, lambda p, who, r: _sign(
                p, who, r, gate, "approved-with-conditions",
                conditions="security office to confirm the rollout plan before go-live"))
            return
        order = list(signers)
        self.rng.shuffle(order)
        conditional = self.rng.random() < 0.3 or (self.code == "IT-2025-007" and gate == "G3")
        for i, signer in enumerate(order):
            if conditional and i == 0:
                text = ("budget recovery plan to the steering committee within 30 days"
                        if self.code == "IT-2025-007" else "close open medium risks within 60 days")
                self.add(w, i + 1, signer, SIGNOFF, lambda p, who, r, t=text: _sign(
                    p, who, r, gate, "approved-with-conditions", conditions=t))
            else:
                self.add(w, i + 1, signer, SIGNOFF, lambda p, who, r: _sign(p, who, r, gate, "approved"))
        self.gates_passed += 1
        if gate == "G2":
            self.purchase_orders(w + 1)
        if gate == "G4":
            self.closed = True
            self.to_reverse.append((w + 3, "post-close", ZERO, ""))

    # Purchase orders ------------------------------------------------------------------------

    def purchase_orders(self, w: int) -> None:
        pm = self.s.pm
        for line in self.lines.values():
            if line.category not in ("hardware", "software", "vendor services") or not line.vendors:
                continue
            share = Decimal(self.rng.randint(55, 80)) / 100
            amount = (line.available * share).quantize(Decimal("100"), rounding=ROUND_DOWN).quantize(CENT)
            if amount <= 0:
                continue
            po = f"PO-{self.code[3:7]}{self.rng.randint(10000, 99999)}"
            vendor = line.vendors[0]
            line.po, line.po_remaining = po, amount
            line.committed += amount
            self.add(w, 0, pm, PM, lambda p, who, r, po=po, v=vendor, ln=line.code, a=amount, c=line.category:
                     p.submit_commitment(po_number=po, vendor=v, line=ln, amount=a,
                                         description=f"Master agreement: {c} for {self.s.title}", by=who))
            self.approvals(w, amount, lambda p, who, r, po=po: p.approve_commitment(
                po_number=po, rules=r, by=who, reason=""))

    def approvals(self, w: int, amount: Decimal, approve: Op) -> None:
        first, second = _fiscal_pair(self.rng)
        self.add(w, 1, first, FISCAL_OR_SPONSOR, approve)
        if amount > Decimal("25000.00"):
            self.add(w, 2, second, FISCAL_OR_SPONSOR, approve)
        if amount > Decimal("100000.00"):
            self.add(w, 3, "sponsor", FISCAL_OR_SPONSOR, approve)

    # Spending ---------------------------------------------------------------------------------

    def money(self, w: int) -> None:
        # Work done this week, at the project's cost factor, becomes owed to vendors.
        target = self.ev() * self.s.cost_factor
        if w < self.s.start + 10:
            # Before execution the team is mostly the project's own planners and analysts.
            target = max(target, self.s.bac * Decimal("0.004") * (w - self.s.start))
        delta = target - self.ac
        if delta > 0:
            for line in self.lines.values():
                line.owed += (delta * line.share).quantize(CENT)
            self.ac = target
        for item in list(self.resubmit):
            self.resubmit.remove(item)
            self.invoice(w, *item)
        for line in self.lines.values():
            self.bill(w, line)
        for item in [x for x in self.to_reverse if x[0] == w]:
            self.to_reverse.remove(item)
            _, exp_key, amount, line_code = item
            if exp_key == "post-close":
                continue
            self.lines[line_code].spent -= amount
            reason = self.rng.choice(REVERSE_REASONS)
            self.add(w, 4, "fiscal", REVERSER, lambda p, who, r, k=exp_key, why=reason: p.reverse_expenditure(
                expenditure_id=self.refs[k], by=who, reason=why))

    def late_reversals(self, w: int) -> None:
        # After closeout only fiscal corrections are possible: a vendor credit memo.
        for item in [x for x in self.to_reverse if x[0] == w]:
            self.to_reverse.remove(item)
            if self.refs:
                last = [k for k in self.refs if k.startswith("exp")][-1]
                self.add(w, 4, "fiscal", REVERSER, lambda p, who, r, k=last: p.reverse_expenditure(
                    expenditure_id=self.refs[k], by=who,
                    reason="vendor credit memo CM-20417 received after closeout: duplicate licence charge"))

    SIZES = {  # category: (minimum to invoice, smallest and largest invoice)
        "labour": (2500, 1800, 9500),
        "hardware": (9000, 4000, 60000),
        "software": (12000, 6000, 140000),
        "vendor services": (15000, 8000, 90000),
        "training": (3000, 1500, 14000),
    }

    def bill(self, w: int, line: _Line) -> None:
        if line.category not in self.SIZES or not line.vendors:
            return
        minimum, lo, hi = self.SIZES[line.category]
        while line.owed >= minimum:
            amount = min(line.owed, self.p.amount(lo, hi)).quantize(CENT)
            if amount > line.owed:
                amount = line.owed
            vendor = self.rng.choice(line.vendors)
            po = line.po if line.po and amount <= line.po_remaining else None
            if po is None and amount > line.available:
                if not self.find_money(w, line, amount):
                    return
                return  # billed next week, once the money has moved
            line.owed -= amount
            self.invoice(w, line.code, vendor, amount, self.p.invoice_number(vendor),
                         self.describe(line, w), po)

    def find_money(self, w: int, line: _Line, amount: Decimal) -> bool:
        """Move budget to a line that ran short: a transfer from the reserve, or a change
        request once the reserve is spent. False when nothing more can be done this week."""
        if self.pending_crs:
            return False
        need = (amount - line.available + line.budget * Decimal("0.06")).quantize(Decimal("1000")) + Decimal("1000")
        pm = self.s.pm
        ct = self.contingency
        if ct is not None and ct.available >= need:
            ct.budget -= need
            line.budget += need
            key = self.key("tr")
            reason = f"{line.name} running short: move {need:,.2f} from the management reserve"
            self.add(w, 0, pm, PM, lambda p, who, r, k=key, ln=line.code, a=need, why=reason: self._set(
                k, p.request_transfer(from_line="CT-01", to_line=ln, amount=a, by=who, reason=why)))
            approver = self.rng.choice(["fiscal", "fiscal2"])
            self.add(w, 1, approver, FISCAL, lambda p, who, r, k=key: p.approve_transfer(
                transfer_id=self.refs[k], by=who, reason="reserve available; within the PM's authority"))
            return True
        if self.gates_passed < 2:
            return False
        need = (need * 3).quantize(Decimal("10000"))
        line.budget += need
        key = self.key("cr")
        self.pending_crs.append(key)
        title = f"Additional funding for {line.name.lower()}"
        self.add(w, 0, pm, PM, lambda p, who, r, k=key, ln=line.code, a=need, t=title: self._set(
            k, p.submit_change_request(
                title=t, description=f"Increase {ln} by {a:,.2f}.",
                justification="Actual effort exceeds the estimate; the management reserve is exhausted.",
                cost_impacts=[{"line": ln, "amount": a}], schedule_impacts=[], scope_impact="",
                deliverables=[], by=who)))
        self.add(w + 1, 1, "sponsor", (("sponsor",), "approve change requests", True),
                 lambda p, who, r, k=key: p.approve_change_request(
                     cr_id=self.refs[k], approver_role=r.change_approver_role, by=who,
                     reason="approved by the IT steering committee"))
        self.pending_crs_clear_week = w + 1
        return False

    def _set(self, key: str, value: str) -> str:
        self.refs[key] = value
        return value

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
        pm = self.s.pm
        key = self.key("exp")
        invoice_date = self.p.bday(w)
        state = self.lines[line]
        if po is not None:
            state.po_remaining -= amount
            state.committed -= amount
        state.spent += amount
        sha = hashlib.sha256(f"{vendor}|{number}|{amount}|{invoice_date}".encode()).hexdigest()
        self.add(w, 0, pm, PM, lambda p, who, r: self._set(key, p.submit_expenditure(
            line=line, amount=amount, vendor=vendor, invoice_number=number, invoice_date=invoice_date,
            description=description, po_number=po, document_sha256=sha, by=who)))
        first, second = _fiscal_pair(self.rng)
        if self.rng.random() < 0.025:
            # Rejected; the PM resubmits a corrected invoice the next week.
            state.spent -= amount
            if po is not None:
                state.po_remaining += amount
                state.committed += amount
            reason = self.rng.choice(REJECT_REASONS)
            self.add(w, 1, first, FISCAL_OR_SPONSOR, lambda p, who, r, why=reason: p.reject_expenditure(
                expenditure_id=self.refs[key], by=who, reason=why))
            self.resubmit.append((line, vendor, amount, number + "-R1", description, po))
            return
        approve = lambda p, who, r: p.approve_expenditure(  # noqa: E731
            expenditure_id=self.refs[key], rules=r, by=who, reason="")
        self.add(w, 1, first, FISCAL_OR_SPONSOR, approve)
        if amount > Decimal("25000.00"):
            self.add(w, 2, second, FISCAL_OR_SPONSOR, approve)
        if amount > Decimal("100000.00"):
            self.add(w, 3, "sponsor", FISCAL_OR_SPONSOR, approve)
        if po is None and self.rng.random() < 0.004 and not self.closed:
            self.to_reverse.append((w + self.rng.randint(1, 3), key, amount, line))

    # Progress ---------------------------------------------------------------------------------

    def progress(self, w: int) -> None:
        pm, friday = self.s.pm, self.p.day(w, 4)
        for m in self.milestones.values():
            if m.accepted:
                continue
            if m.percent == 100:
                m.accepted = True
                self.add(w, 4, "sponsor", SPONSOR, lambda p, who, r, m=m, d=self.p.day(w, 2): p.accept_milestone(
                    milestone=m.code, accepted_on=d, by=who, reason="user acceptance signed"))
                continue
            percent = self.actual_percent(m, friday)
            if percent <= m.percent:
                continue
            m.percent = percent
            note = "complete" if percent == 100 else ""
            self.add(w, 0, pm, PM, lambda p, who, r, m=m.code, pc=percent, d=friday, n=note: p.report_progress(
                milestone=m, percent=pc, as_of=d, note=n, by=who))

    # Risks and issues ---------------------------------------------------------------------------

    def risks_and_issues(self, w: int) -> None:
        pm, rng = self.s.pm, self.rng
        if w >= self.next_risk and len(self.risks) < len(RISKS):
            title, mitigation = RISKS[(len(self.risks) + len(self.code)) % len(RISKS)]
            risk = {"key": self.key("risk"), "p": rng.randint(2, 4), "i": rng.randint(2, 5),
                    "status": "open", "review": w + rng.randint(3, 6)}
            self.risks.append(risk)
            self.add(w, 0, pm, PM, lambda p, who, r, k=risk["key"], t=title, pr=risk["p"], im=risk["i"],
                     mi=mitigation: self._set(k, p.raise_risk(
                         title=t, probability=pr, impact=im, owner=self.s.brm.split(",")[0],
                         mitigation=mi, description="", by=who)))
            self.next_risk = w + rng.randint(5, 10)
        for risk in self.risks:
            if risk["status"] == "closed" or w < risk["review"]:
                continue
            risk["review"] = w + rng.randint(3, 7)
            if rng.random() < 0.25:
                risk["status"] = "closed"
                self.add(w, 0, pm, PM, lambda p, who, r, k=risk["key"]: p.close_risk(
                    risk_id=self.refs[k], by=who, reason="mitigation complete; exposure no longer material"))
                continue
            prob = max(1, min(5, risk["p"] + rng.choice([-1, -1, 0, 1])))
            impact = max(1, min(5, risk["i"] + rng.choice([-1, 0, 0, 1])))
            status = "mitigating"
            if (prob, impact, status) == (risk["p"], risk["i"], risk["status"]):
                prob = max(1, prob - 1) if prob > 1 else prob + 1
            risk.update(p=prob, i=impact, status=status)
            self.add(w, 0, pm, PM, lambda p, who, r, k=risk["key"], pr=prob, im=impact, st=status: p.update_risk(
                risk_id=self.refs[k], probability=pr, impact=im, owner=None, mitigation=None,
                status=st, by=who, reason="monthly risk review"))
        if w >= self.next_issue:
            title, severity = ISSUES[(len(self.issues) + w) % len(ISSUES)]
            issue = {"key": self.key("issue"), "resolve": w + rng.randint(2, 6)}
            self.issues.append(issue)
            self.add(w, 0, pm, PM, lambda p, who, r, k=issue["key"], t=title, sv=severity: self._set(
                k, p.raise_issue(title=t, description=f"{t}; impact on the current sprint under review.",
                                 severity=sv, owner=self.s.brm.split(",")[0], by=who)))
            if severity in ("high", "critical"):
                self.add(w + 1, 0, pm, PM, lambda p, who, r, k=issue["key"]: p.escalate_issue(
                    issue_id=self.refs[k], to="sponsor", by=who,
                    reason="needs a decision above the project"))
            self.next_issue = w + rng.randint(8, 16)
        for issue in self.issues:
            if issue.get("resolve") == w:
                issue["resolve"] = None
                self.add(w, 0, pm, PM, lambda p, who, r, k=issue["key"]: p.resolve_issue(
                    issue_id=self.refs[k], resolution="workaround in place; root cause fixed by the vendor",
                    by=who))

    # Status reports ------------------------------------------------------------------------------

    def status_report(self, w: int) -> None:
        monday = self.p.day(w)
        if monday.day > 7:
            return
        end = monday.replace(day=1) - timedelta(days=1)
        start = max(end.replace(day=1), self.start_date)
        if end < start:
            return
        self.add(w, 0, self.s.pm, PM, lambda p, who, r, a=start, b=end: _publish(p, who, r, a, b))

    # Change control --------------------------------------------------------------------------------

    def change_control(self, w: int) -> None:
        if getattr(self, "pending_crs_clear_week", None) == w:
            self.pending_crs.clear()
        if self.gates_passed < 2 or self.pending_crs:
            return
        s, pm, rng = self.s, self.s.pm, self.rng
        if rng.random() > 0.045:
            return
        m = self.milestones["M-04"]
        if m.accepted or m.percent > 0 or self.closed:
            return
        self.cr_count += 1
        key = self.key("cr")
        outcome = rng.choice(["approved", "approved", "rejected", "withdrawn"])
        if self.cr_count == 1 and s.code == "IT-2025-018":
            outcome = "approved"
            line_key = "SW-02"
            cost = [{"line": line_key, "amount": Decimal("85000.00"), "name": "Backup software",
                     "category": "software"}]
        else:
            cost = [{"line": "VS-01", "amount": self.p.amount(15, 60) * 1000}]
        new_finish = m.finish + timedelta(days=14)
        sched = [{"milestone": "M-04", "planned_finish": new_finish}]
        title = {1: "Additional interface to the asset management system",
                 2: "Extend user acceptance testing by two weeks",
                 3: "Add accessibility remediation sprint"}.get(self.cr_count, "Scope adjustment")
        self.add(w, 0, pm, PM, lambda p, who, r, k=key, c=cost, sc=sched, t=title: self._set(k, p.submit_change_request(
            title=t, description=f"{t} requested by the business owner.",
            justification="Required for the department to accept the system.",
            cost_impacts=c, schedule_impacts=sc, scope_impact=t, deliverables=[], by=who)))
        self.pending_crs.append(key)
        self.pending_crs_clear_week = w + 1
        if outcome == "approved":
            m.finish = new_finish
            for impact in cost:
                if impact["line"] in self.lines:
                    self.lines[impact["line"]].budget += impact["amount"]
            self.add(w + 1, 1, "sponsor", (("sponsor",), "approve change requests", True),
                     lambda p, who, r, k=key: p.approve_change_request(
                         cr_id=self.refs[k], approver_role=r.change_approver_role, by=who,
                         reason="benefits justify the cost"))
        elif outcome == "rejected":
            self.add(w + 1, 1, "sponsor", (("sponsor",), "reject change requests", True),
                     lambda p, who, r, k=key: p.reject_change_request(
                         cr_id=self.refs[k], by=who, reason="defer to phase 2; no funding this fiscal year"))
        else:
            self.add(w + 1, 0, pm, PM, lambda p, who, r, k=key: p.withdraw_change_request(
                cr_id=self.refs[k], by=who, reason="the department found a workaround"))


def _sign(p: Project, who: Who, rules: Rules, gate: str, decision: str, *, conditions: str = "",
          reason: str = "") -> None:
    p.sign_off_gate(gate=gate, decision=decision, conditions=conditions, reason=reason,
                    as_role=None, required=rules.gate_roles(gate), by=who)


def _publish(p: Project, who: Who, rules: Rules, start: date, end: date) -> str:
    """A status report whose RAG follows the earned-value figures and the policy bands."""
    f = figures(p, end)
    budget = rules.band(f["cpi"]) or "green"
    schedule = rules.band(f["spi"]) or "green"
    if end > p.charter["target_finish"] and not p.closed and p.next_gate in ("G1", "G2", "G3"):
        schedule = "red"
    scope = "amber" if any(cr["status"] == "pending" for cr in p.change_requests.values()) else "green"
    worst = max((budget, schedule, scope), key=("green", "amber", "red").index)
    summary = (f"{calendar.month_name[end.month]} {end.year}: spent {f['spent']:,.2f} of "
               f"{f['budget']:,.2f}; CPI {f['cpi'] if f['cpi'] is not None else 'n/a'}, "
               f"SPI {f['spi'] if f['spi'] is not None else 'n/a'}.")
    return p.publish_status_report(period_start=start, period_end=end, overall=worst,
                                   schedule=schedule, budget=budget, scope=scope,
                                   summary=summary, by=who)


# Playing the plan ------------------------------------------------------------------------------


class _Player:
    """Plays acts in batches: one save per run of acts by one person on one project."""

    def __init__(self, app: PMOApplication, actors: dict[str, Actor],
                 progress: Callable[[int, int], None] | None, total: int) -> None:
        self.app = app
        self.actors = actors
        self.progress = progress
        self.total = total
        self.done = 0
        self.projects: dict[str, Project] = {}
        self.who: dict[tuple[Any, ...], Who] = {}
        self.rules = app.rules()

    def play(self, acts: list[_Act]) -> None:
        i = 0
        while i < len(acts):
            act = acts[i]
            if act.service is not None:
                act.service(self.app, self.actors)
                self.projects[act.code] = self.app.project(act.code)
                self.rules = self.app.rules()
                self.tick(1)
                i += 1
                continue
            j = i
            project = self.projects[act.code]
            while j < len(acts) and acts[j].service is None and (acts[j].actor, acts[j].code) == (
                    act.actor, act.code):
                a = acts[j]
                a.fn(project, self.may(a), self.rules)  # type: ignore[misc]
                j += 1
            self.app.save(project, signer=self.actors[act.actor].signer)
            self.tick(j - i)
            i = j

    def may(self, act: _Act) -> Who:
        """The service's own check that this person may act so on this project (once)."""
        roles, action, approving = act.perm
        key = (act.actor, act.code, roles, approving)
        if key not in self.who:
            self.who[key] = self.app._check_may(self.actors[act.actor], roles, act.code, action,
                                                approving=approving)
        return self.who[key]

    def tick(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


# Entry points ------------------------------------------------------------------------------------


def demo_present(app: PMOApplication) -> bool:
    """True when this ledger already holds the demo portfolio."""
    try:
        app.project(DEMO_MARKER)
    except Exception:  # noqa: BLE001 - no directory, no project: not the demo
        return False
    return True


def plan_demo(*, seed: int = 2026, as_of: date | None = None) -> list[_Act]:
    """The demo's acts in the order they are played (without the people and the policy)."""
    as_of = as_of or date.today()
    monday = as_of - timedelta(days=as_of.weekday())
    week0 = monday - timedelta(weeks=WEEKS)
    planner = _Planner(random.Random(seed), week0, as_of)
    plans = [_ProjectPlan(planner, spec) for spec in _portfolio()]
    for w in range(WEEKS):
        for plan in plans:
            plan.week(w)
    order = {code: i for i, code in enumerate(p.code for p in plans)}
    actors = {name: i for i, (name, *_rest) in enumerate(DEMO_PEOPLE)}
    # Stable: within a week and project, by phase, then by person (so one person's acts
    # of a phase form one batch), keeping the planned order inside a batch.
    planner.acts.sort(key=lambda a: (a.week, order[a.code], a.phase, actors[a.actor] if a.phase else 0))
    return planner.acts


def seed_demo(
    app: PMOApplication, root: Signer, *, passphrase: str, password: str = "demo",
    progress: Callable[[int, int], None] | None = None, seed: int = 2026,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Seed the demo portfolio into an empty, initialised ledger (its key ring only).

    One person per role -- pm, pm2, fiscal, fiscal2, sponsor, pmo, auditor, admin -- with
    `password`; their signing keys are held by the server under `passphrase`. Returns a
    summary: the people (username, name, role), the project codes and the log size."""
    acts = plan_demo(seed=seed, as_of=as_of)
    setup = len(DEMO_PEOPLE) * 2 + 1
    total = setup + len(acts)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    (admin_name, admin_full, _, admin_title) = DEMO_PEOPLE[0]
    admin = app.bootstrap(root, username=admin_name, name=admin_full, passphrase=passphrase,
                          password=password, email=_email(admin_full))
    tick()
    for username, name, role, title in DEMO_PEOPLE[1:]:
        app.enrol_person(admin, username=username, name=name, passphrase=passphrase,
                         password=password, email=_email(name), reason=title)
        tick()
        app.grant_role(admin, username, role, reason=title)
        tick()
    actors = {u: (admin if u == admin_name else app.actor(u, passphrase)) for u, *_ in DEMO_PEOPLE}
    app.change_policy(actors["pmo"], {"pending_days_limit": 10},
                      reason="Finance directive FY26-03: invoices reviewed within 10 days")
    tick()
    player = _Player(app, actors, progress, total)
    player.done = done
    player.play(acts)
    return {
        "people": [(u, n, r) for u, n, r, _ in DEMO_PEOPLE],
        "projects": sorted(player.projects),
        "events": app.size(),
    }


def _email(name: str) -> str:
    first, last = name.lower().split()[0], name.lower().split()[-1]
    return f"{first}.{last}@city.example.gov"


__all__ = ["DEMO_MARKER", "DEMO_PEOPLE", "demo_present", "plan_demo", "seed_demo"]
