"""`rnnlab serve`: an HTTP API made from the registered verbs, and the playground page (docs/serving.md).

    config.py     ServeConfig and Limits: address, token, batching, the limits of one request
    models.py     the served models, loaded once from the paths given at start
    requests.py   a request body checked against the verb's options dataclass (the CLI's checks)
    runner.py     running a verb off the event loop: per-model slots, worker threads, deadlines
    batching.py   concurrent requests with equal options merged into one run and split back
    responses.py  results as JSON (the same as `--json`) or server-sent events
    app.py        the FastAPI application
    static/       the playground (one HTML page, its script and style; nothing downloaded)

FastAPI is imported only by `app.py`, so the rest of rnnlab never needs it.
"""
