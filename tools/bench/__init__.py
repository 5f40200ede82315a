"""The benchmark: `pmo-ledger bench` (command.py), the ledger's append and verification
speed (ledger.py) and the read models' rebuild and as-of figures (readmodels.py)."""
