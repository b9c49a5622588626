"""The Chalice app: middleware, blueprints and the event handlers. Nothing else lives here."""

import os

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware, Cron

from chalicelib import jobs
from chalicelib.api.observability import logger, metrics, tracer
from chalicelib.shared import clock
from chalicelib.events import dispatch, stats  # noqa: F401  (stats registers its subscriber)
from chalicelib.members.routes import bp as members
from chalicelib.merchants.routes import bp as merchants
from chalicelib.store.tables import EVENTS, stream_placeholder
from chalicelib.system.routes import bp as system

app = Chalice(app_name="loyalty")
app.register_middleware(ConvertToMiddleware(
    logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)), "all")
app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")
if tracer is not None:
    app.register_middleware(ConvertToMiddleware(tracer.capture_lambda_handler), "all")

for blueprint in (system, members, merchants):
    app.register_blueprint(blueprint)

# Chalice needs a stream ARN string at import time. It names the events table; the deployed
# template replaces it with the table's real StreamArn (infra/build.py), and the local stream
# pump resolves it to the emulator's stream by the table name.
EVENTS_STREAM_ARN = os.environ.get("EVENTS_STREAM_ARN") or stream_placeholder(EVENTS)


@app.on_dynamodb_record(stream_arn=EVENTS_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def dispatch_domain_events(event):
    """Deliver outbox events to their subscribers; report the first failure for a retry from there."""
    return dispatch.handle_records(record for record in event.to_dict()["Records"])


@app.schedule(Cron(30, 16, "*", "*", "?", "*"), name="member-lifecycle")
def review_member_lifecycle(event):
    """Daily at 00:30 Asia/Shanghai: move members between lifecycle stages."""
    return jobs.run("member-lifecycle", clock.now())
