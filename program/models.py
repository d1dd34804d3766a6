"""Every domain's models in one place, so Alembic (and anyone reading) sees the whole schema."""

import program.goals.models  # noqa: E402,F401
import program.reports.models  # noqa: E402,F401
import program.reviews.funnel_models  # noqa: E402,F401
import program.reviews.models  # noqa: E402,F401
import program.shadow.models  # noqa: E402,F401
from program.accounts.models import (  # noqa: F401
    Department,
    LoginAttempt,
    PasswordResetToken,
    PeopleImport,
    Team,
    User,
)
from program.activities.models import Activity, Participation, ParticipationEvent  # noqa: F401
from program.calendar.models import CalendarFeed  # noqa: F401
from program.debriefs.models import (  # noqa: F401
    Answer,
    AnswerCode,
    ContestDraw,
    Debrief,
    DebriefQuestion,
    DebriefTask,
    DebriefTemplate,
    LearningUseful,
    ReasonCode,
    Tactic,
)
from program.jobs import SentNotice  # noqa: F401
from program.mail.models import OutboxMessage  # noqa: F401
from program.rides.models import RideAlongCall  # noqa: F401
