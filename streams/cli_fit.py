"""``touchpoint fit``: refit the lifetime-value models on the current customer base."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

import click
from rich.table import Table

from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out
from streams.settings import Settings

if TYPE_CHECKING:  # numpy and scipy load only when `fit` runs, not on every command
    from streams.clv_job import FitOutcome


@click.command()
@click.option(
    "--horizon-days",
    type=click.FloatRange(min=0),
    default=90.0,
    show_default=True,
    help="Horizon of the expected-purchases score.",
)
@click.option(
    "--months",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="CLV horizon in months (of 30 days).",
)
@click.option(
    "--annual-discount-rate",
    type=click.FloatRange(min=0),
    default=0.10,
    show_default=True,
    help="Discount rate per year for CLV.",
)
@click.option("--dry-run", is_flag=True, help="Fit and print; publish nothing.")
@with_settings
def fit(
    settings: Settings, horizon_days: float, months: int, annual_discount_rate: float, dry_run: bool
) -> None:
    """Fit BG/NBD and Gamma-Gamma by maximum likelihood on every buyer in the read model.

    Publishes the parameters (clv-fits) and each customer's P(alive), expected purchases
    and CLV (clv-scores); the materializer stores them in the clv_fits and clv tables.
    Customers whose P(alive) falls below the churn rules' low_p_alive get a churn
    warning (churn-warning-events), cleared at a later refit that finds them alive.
    Run it on a schedule (cron, a Kubernetes CronJob) or on demand; fitted_at is the
    read model's event-time watermark.
    """
    from projections import queries
    from streams.clv_job import ClvJob, fit_from_read_model, publish

    job = ClvJob(horizon_days, months, annual_discount_rate)
    try:
        conn = queries.open_read_model(settings.db)
    except queries.ReadModelMissing as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        outcome = fit_from_read_model(conn, settings, job)
    except ValueError as exc:
        raise click.ClickException(f"cannot fit: {exc}") from exc
    finally:
        conn.close()
    _print(outcome)
    if not dry_run:
        with kafka_errors():
            publish(settings, outcome)
        console.print(
            f"published the fit, {len(outcome.scores):,} customer scores and "
            f"{len(outcome.warnings):,} low_p_alive warning events"
        )


def _print(outcome: FitOutcome) -> None:
    models = outcome.models
    bg, gg = models.bgnbd, models.gamma_gamma
    table = Table(
        "model",
        "parameters",
        "log-likelihood",
        "customers",
        title=f"fitted as of {models.fitted_at:%Y-%m-%d %H:%M} (event time)",
    )
    table.add_row("BG/NBD", _params(bg.params), f"{bg.log_likelihood:,.1f}", f"{bg.customers:,}")
    table.add_row(
        "Gamma-Gamma", _params(gg.params), f"{gg.log_likelihood:,.1f}", f"{gg.customers:,}"
    )
    out.print(table)


def _params(params: object) -> str:
    return ", ".join(f"{f.name}={getattr(params, f.name):.4g}" for f in fields(params))  # type: ignore[arg-type]
