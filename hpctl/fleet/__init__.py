"""The fleet engine: every fleet write (assess, install, rollouts, and the writes other commands add) runs here.

Pieces: the admission gate (budgets.py: Azure's published request budgets as token buckets, seeded by the
remaining counts each response carries), the engine (engine.py: sends as the gate allows, one shared poll
schedule, a few HTTP workers, never a thread per operation), the write-ahead journal (journal.py), interrupts
(interrupts.py), availability-first waves (waves.py), and rows/summaries (writes.py).

Adding an operation kind (e.g. Run Command, restart, an Arc license-profile PUT, a VM PATCH):

1. In hpctl/edge/, a function that sends the request through the SDK and returns a `stepped.Pending` for a
   long-running operation (see `stepped.start_install`: the SDK's `begin_*` with `polling=SteppedPolling`,
   and `token=` to pick an accepted operation up again). Only the edge imports azure.*.
2. A class satisfying `hpctl.fleet.kinds.OperationKind`:
   - `name` (the journal's kind), `detail_key` (the row field for the detail),
   - `budgets` / `poll_budgets`: the `hpctl.fleet.budgets.Budget`s one send / one poll draw on
     (GUEST_PATCH, UPDATE_VM, LOW_COST_GET, GET_OPERATION, …; define a new `Budget` with Compute's published
     capacity and refill per VM and per subscription; ARM's write/read buckets are added by the engine),
   - `resend_safe`: may a send whose answer was lost be sent again (assess: yes; install, Run Command: no),
   - `max_seconds`: how long Azure may take (polls that keep failing give up after it plus a margin, and the
     outcome is Unknown, never Failed),
   - `send(target)`, `resume(target, token)`, `before(target)` (what to journal before sending, for
     reconciling), `reconcile(target, journal_entry)` (an unknown fate read back from Azure: an Outcome if it
     was accepted, None if not), `outcome(result)` (the result body → SUCCEEDED / FAILED + detail);
   - optionally `expected_work(target)`: how long its operation is likely to run, relatively (installs: the
     pending patches); the engine sends the likeliest long ones first.
   Kinds can share a run (`run_write(..., kinds=[...])`, one per target): each kind gets its own send lane.
   See hpctl.fleet.patch_kinds (AssessKind, InstallKind).
3. Run it: `hpctl.fleet.writes.run_write(conn, kind, targets, WriteOptions(...))` (outcomes) or, for rows,
   `write_result(...)`; journal it with `open_journal(kind_name, targets, settings, state_file, resume)`;
   in waves with `hpctl.fleet.waves` as a model. Targets come from `hpctl.fleet.commands.resolve_parts`.
4. In the CLI: `hpctl.cli.confirm.confirm_write(what, count, details, yes=yes)` before any write on more than
   one VM (with `YesOpt` for --yes/-y and `target_lines(targets)` for counts per group and zone),
   `hpctl.fleet.interrupts.interrupts()` around the run, and `hpctl.cli.progress.fleet_progress(total, label)`
   as the progress callback.
"""
