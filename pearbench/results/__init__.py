"""Results layer: the result record (schema, checksums, storage), the SQLite index, statistics and aggregation
into leaderboards, and the renderers (Markdown, CSV, LaTeX, HTML) and plots.

Depends on the core modules only; the harness writes records through it. Public names of
:mod:`pearbench.results.records`, of :mod:`pearbench.results.index` (the SQLite index) and of the leaderboard
modules (:mod:`~pearbench.results.leaderboard`, :mod:`~pearbench.results.model`, the renderers) are re-exported here,
loaded on first use, and so is :func:`~pearbench.results.frame.records_frame` (records as pandas DataFrames).
"""

from pearbench._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BUSY_TIMEOUT_S": "index",
        "BadRecordWarning": "records",
        "CONFIG_HASH_KEYS": "records",
        "INDEX_FILE": "index",
        "INDEX_VERSION": "index",
        "RECORDS_DIR": "index",
        "REFERENCE_MODELS": "records",
        "SCHEMA_VERSION": "records",
        "STAGES": "records",
        "compute_checksum": "records",
        "finalize_record": "records",
        "index_path": "index",
        "index_rows": "index",
        "load_records": "records",
        "make_run_id": "records",
        "rebuild_index": "records",
        "record_path": "records",
        "upsert_index": "index",
        "validate_record": "records",
        "verify_checksum": "records",
        "write_record": "records",
        # pandas DataFrames of the records
        "records_frame": "frame",
        # leaderboards
        "Comparison": "model",
        "Estimate": "model",
        "Example": "model",
        "FORMATS": "leaderboard",
        "Leaderboard": "model",
        "MethodRow": "model",
        "ReferenceRow": "model",
        "build_leaderboard": "aggregate",
        "build_leaderboards": "aggregate",
        "render": "leaderboard",
        "render_csv": "render_text",
        "render_html": "render_html",
        "render_latex": "render_text",
        "render_markdown": "render_text",
    },
)
