"""The tracking benchmark's parts (``manage.py bench_tracking``): seeding N active shipments in
bulk (ours and the sandbox's 17TRACK registrations), the measurements, the journey simulation.
A bench may use the sandbox and the channel push runner directly (pyproject's import-linter
ignores ``tracking.bench``); production code may not."""
