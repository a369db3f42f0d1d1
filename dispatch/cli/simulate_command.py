"""``velocal simulate``: couriers ride their planned routes and their phones report GPS."""

from __future__ import annotations

import urllib.parse
from typing import Annotated

import typer

from dispatch.demo import PASSWORD_ENV
from dispatch.simulate import DEMO_STAFF_EMAIL, SimulateOptions, simulate


def _say(line: str) -> None:
    print(f"velocal: {line}", flush=True)


def _positive(value: float, option: str) -> None:
    if not value > 0:
        raise typer.BadParameter(f"must be more than 0, not {value:g}", param_hint=option)


def simulate_command(
    url: Annotated[str, typer.Option("--url", help="The velocal server.")] = (
        "http://127.0.0.1:8000"
    ),
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar=PASSWORD_ENV,
            help="The couriers' password (the demo's one password for every account).",
            show_default=False,
        ),
    ] = None,
    courier: Annotated[
        list[str] | None,
        typer.Option(
            "--courier",
            help="A courier account's e-mail (repeat for more; default: every courier "
            "with a route today, listed through --staff-email).",
            show_default=False,
        ),
    ] = None,
    staff_email: Annotated[
        str, typer.Option("--staff-email", help="The staff account that lists the couriers.")
    ] = DEMO_STAFF_EMAIL,
    speed: Annotated[float, typer.Option("--speed", help="Riding speed, km/h.")] = 15.0,
    noise: Annotated[float, typer.Option("--noise", help="GPS noise σ per axis, metres.")] = 5.0,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between two fixes (real time).")
    ] = 2.0,
    batch: Annotated[
        float, typer.Option("--batch", help="Seconds between two posts of the fixes.")
    ] = 10.0,
    speed_up: Annotated[
        float, typer.Option("--speed-up", help="Ride N times faster (timestamps stay real).")
    ] = 1.0,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Stop after this many seconds.", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the GPS noise.")] = 0,
    next_shift: Annotated[
        bool,
        typer.Option(
            "--next-shift", help="Without a route today, ride the next planned shift's route."
        ),
    ] = False,
    progress_every: Annotated[
        float, typer.Option("--progress-every", help="Seconds between progress lines.")
    ] = 60.0,
) -> None:
    """Ride couriers along their planned routes, posting noisy GPS fixes like their phones.

    Shifts still scheduled are started; stops are not completed (their label codes are not
    shown to couriers, so only the people can confirm them) and shifts are not ended.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise typer.BadParameter(f"{url!r} is not an http(s) address", param_hint="--url")
    if not password:
        raise typer.BadParameter(f"is required (or set {PASSWORD_ENV})", param_hint="--password")
    for value, option in (
        (speed, "--speed"),
        (interval, "--interval"),
        (batch, "--batch"),
        (speed_up, "--speed-up"),
        (progress_every, "--progress-every"),
    ):
        _positive(value, option)
    if duration is not None:
        _positive(duration, "--duration")
    if noise < 0:
        raise typer.BadParameter(f"must be 0 or more, not {noise:g}", param_hint="--noise")
    if batch < interval:
        raise typer.BadParameter(
            f"must be at least --interval ({interval:g} s), not {batch:g}", param_hint="--batch"
        )
    options = SimulateOptions(
        base_url=url,
        password=password,
        couriers=tuple(courier or ()),
        staff_email=staff_email,
        speed_kmh=speed,
        noise_m=noise,
        interval_s=interval,
        batch_s=batch,
        speed_up=speed_up,
        seed=seed,
        duration_s=duration,
        next_shift=next_shift,
        progress_s=progress_every,
    )
    report = simulate(options, say=_say)
    for done in report.couriers:
        state = done.stopped or ("route finished" if done.finished else "still riding")
        _say(
            f"{done.email} ({done.device_id}): {done.fixes} fixes, {done.stored} stored, "
            f"{done.duplicates} duplicates, {done.rejected} refused, {done.unsent} unsent; "
            f"{state}"
        )
    _say(f"{len(report.couriers)} couriers simulated in {report.seconds:.1f} s")
