"""Rides: a ride-along offered through the real service (``make.ride_along``)."""

from __future__ import annotations

from program.extensions import db
from tests.conftest import FIXED_NOW


class RideBuilders:
    """Needs ``self.user`` (AccountBuilders)."""

    def ride_along(
        self,
        host=None,
        *,
        starts_in=None,
        seats: int = 2,
        hours: float = 1,
        cutoff_hours: int = 12,
        segment: str = "Enterprise",
        stage: str = "Opportunity",
        call_type: str = "demo",
        account: str = "Acme Ltd",
        hide_account: bool = False,
        tz: str = "Europe/London",
        now=None,
    ):
        """A ride-along offered through the real service (default: 2 days ahead, 2 seats, 12 h cutoff)."""
        from datetime import timedelta
        from zoneinfo import ZoneInfo

        from program.rides.services import CallData, offer_call

        now = now or FIXED_NOW
        host = host or self.user(role="staff", department="Sales")
        start = (now + (starts_in if starts_in is not None else timedelta(days=2))).astimezone(ZoneInfo(tz))
        end = start + timedelta(hours=hours)
        data = CallData(
            host_id=host.id,
            account_name=account,
            segment=segment,
            funnel_stage=stage,
            call_type=call_type,
            day=start.date(),
            start=start.time().replace(tzinfo=None),
            end=end.time().replace(tzinfo=None),
            timezone=tz,
            location="1 Market Street",
            seats=seats,
            cutoff_hours=cutoff_hours,
            briefing="Listen first.",
            hide_account=hide_account,
        )
        activity = offer_call(host, data, now - timedelta(days=30) if start <= now else now)
        db.session.flush()
        return activity
