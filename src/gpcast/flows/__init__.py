"""The workflows the command line, the HTTP API, the demo and CI call: one function each.

    release.run        data → gates → registered version → staging → approval requested
    release.approve    the version staging accepted → production, official forecast recorded
    release.reject / release.rollback / release.status / release.doctor / release.stop
    monitor.monitor    score, test, report, alert (and retrain)
    monitor.record / monitor.add_actuals / monitor.shadow_report
    serve.served_artifact   the bundle an environment or version serves, sha256 checked

Each builds its collaborators through :mod:`gpcast.wiring`, returns a typed result and
never prints: showing the result is the caller's business.
"""
