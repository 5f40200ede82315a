"""Tests of PMO Ledger (a package, so helper modules have stable import paths and topics)."""
