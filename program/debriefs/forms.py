"""Forms for the HR/admin debrief pages: the template editor (one row per question) and the codebook."""

from __future__ import annotations

import re

from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from program.debriefs.models import (
    CODE_CATEGORY_LABELS,
    QUESTION_TYPE_LABELS,
    DebriefQuestion,
    DebriefTemplate,
    QuestionType,
    ReasonCode,
)
from program.debriefs.template_versions import QuestionSpec
from program.formutil import options as select_options
from program.formutil import strip
from program.validation import TandemForm, from_column

MAX_QUESTIONS = 60
BLANK_ROWS = 3
OPTION_MAX = 200
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
CHOICE_TYPES = {QuestionType.SINGLE_CHOICE.value, QuestionType.MULTI_CHOICE.value}
TEXT_TYPES = {QuestionType.SHORT_TEXT.value, QuestionType.LONG_TEXT.value}
# Keys other parts of Tandem read: the learnings feed shows "learned" answers, the tactics triage
# picks up "tactic" answers. Both read the answer's text, so those questions must be text questions.
FEED_KEYS = {"learned": "the learnings feed", "tactic": "the tactics triage"}

SHARED_HELP = (
    "Text questions only. Answers are shown with the writer's name to everyone in the learnings feed "
    "(shadow days: to leaders, HR and admins unless the writer shares with everyone), and the form says so "
    "beside the question. A tactic question that is not shared never reaches the tactics triage."
)

KEY_HELP = (
    "A short identifier kept across versions (lowercase letters, digits and _). Left empty, one is made "
    "from the question. Two keys mean something: “learned” is the question for the learnings feed, and answers "
    "to “tactic” feed the tactics triage — keep them on the questions that ask for those. Whether an answer "
    "is shown to others is decided by “Shared in the learnings feed”."
)


def _category_choices():
    return select_options(
        [("", "— not a reason-code question —")] + [(c.value, label) for c, label in CODE_CATEGORY_LABELS.items()]
    )


def _error(field, message: str) -> None:
    """Add a message beside a field, unless the field already says what is wrong."""
    if not field.errors:
        field.errors = [message]


def slug_key(text: str) -> str:
    """A key made from a question's wording: "What did you learn?" -> "what_did_you_learn"."""
    key = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].rstrip("_")
    if not key or not key[0].isalpha():
        key = ("q_" + key)[:40].rstrip("_")
    return key


def option_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def specs_of(template: DebriefTemplate) -> list[QuestionSpec]:
    """A published version's questions as specs (to compare with an edit, or to start from)."""
    return [
        QuestionSpec(
            key=q.key,
            qtype=q.qtype,
            prompt=q.prompt,
            help_text=q.help_text,
            required=q.required,
            options=q.options,
            code_category=q.code_category,
            ask_words=q.ask_words,
            shared_in_feed=q.shared_in_feed,
        )
        for q in template.questions
    ]


class QuestionRowForm(Form):
    """One question of the template. A subform: the CSRF token lives on the page's form (which checks its input)."""

    saves_to = (DebriefQuestion,)

    existing = HiddenField()  # "1" for rows that came from a published version; blank rows are new
    position = IntegerField(
        "Position",
        validators=[Optional(), NumberRange(min=1, max=999, message="Use a number from 1 to 999.")],
        description="Questions are asked in this order. To move one, give it the number of the place it should take.",
    )
    prompt = StringField(
        "Question",
        validators=from_column(DebriefQuestion.prompt, message="Keep the question to %(max)d characters."),
        filters=[strip],
    )
    qtype = SelectField(
        "Type",
        choices=select_options((t.value, QUESTION_TYPE_LABELS[t]) for t in QuestionType),
        default=QuestionType.LONG_TEXT.value,
    )
    key = StringField(
        "Key",
        validators=from_column(DebriefQuestion.key, message="Keep the key to %(max)d characters."),
        filters=[strip],
        description=KEY_HELP,
    )
    help_text = StringField(
        "Help text",
        validators=from_column(DebriefQuestion.help_text, message="Keep the help text to %(max)d characters."),
        filters=[strip],
        description="Shown under the question. Optional.",
    )
    required = BooleanField("Required")
    options_text = TextAreaField(
        "Options", description="Single and multiple choice only: one option per line, at least two."
    )
    code_category = SelectField(
        "Reason-code category",
        choices=_category_choices(),
        description="Reason-code questions only. “Unknown / other” with a text box is always offered.",
    )
    ask_words = BooleanField(
        "Ask for the customer's words",
        description="Reason-code questions only: a box for what the customer said, beside each code.",
    )
    shared = BooleanField(
        "Shared in the learnings feed",
        description=SHARED_HELP,
    )
    remove = BooleanField(
        "Remove this question", description="It stays in older versions and in debriefs already given."
    )

    @property
    def is_new(self) -> bool:
        return self.existing.data != "1"

    @property
    def is_blank(self) -> bool:
        """A new row nobody typed into is ignored."""
        return self.is_new and not (
            self.prompt.data or self.key.data or self.help_text.data or option_lines(self.options_text.data)
        )


class TemplateForm(TandemForm):
    """Edit a kind's questions; submitting publishes a new version. Errors are put beside the row's field."""

    saves_to = (DebriefTemplate,)

    based_on = HiddenField()  # the version the editor started from, to notice someone else publishing meanwhile
    questions = FieldList(FormField(QuestionRowForm), max_entries=MAX_QUESTIONS)
    note = StringField(
        "Version note",
        validators=from_column(DebriefTemplate.note, message="Keep the note to %(max)d characters."),
        filters=[strip],
        description="What changed and why, for the version history. Optional.",
    )

    specs: list[QuestionSpec] | None = None

    def fill(self, template: DebriefTemplate, blank_rows: int = BLANK_ROWS) -> None:
        """Rows for a published version's questions, then a few blank rows for new ones."""
        for n, q in enumerate(template.questions, 1):
            self.questions.append_entry(
                {
                    "existing": "1",
                    "position": n,
                    "prompt": q.prompt,
                    "qtype": q.qtype,
                    "key": q.key,
                    "help_text": q.help_text,
                    "required": q.required,
                    "options_text": "\n".join(q.options),
                    "code_category": q.code_category,
                    "ask_words": q.ask_words,
                    "shared": q.shared_in_feed,
                    "remove": False,
                }
            )
        start = len(template.questions)
        for n in range(blank_rows):
            self.questions.append_entry({"existing": "", "position": start + n + 1})

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        self.specs = self._collect_specs()
        # Row errors added after the fields validated: let the list (and so form.errors) know.
        self.questions.errors = [entry.errors for entry in self.questions.entries]
        if not any(self.questions.errors):
            self.questions.errors = []
        return ok and self.specs is not None

    def _collect_specs(self) -> list[QuestionSpec] | None:
        """Check every row and turn the kept ones, in position order, into specs; None if any row is wrong."""
        kept: list[tuple[tuple[int, int, int], QuestionSpec]] = []
        failed = False
        keys_seen: dict[str, int] = {}
        for index, entry in enumerate(self.questions.entries):
            row: QuestionRowForm = entry.form
            if row.remove.data or row.is_blank:
                continue
            if row.errors:
                failed = True
            qtype = row.qtype.data
            if not row.prompt.data:
                _error(row.prompt, "Write the question.")
                failed = True
            key = row.key.data or slug_key(row.prompt.data or "")
            if row.key.data and not KEY_PATTERN.match(key):
                _error(row.key, "Use lowercase letters, digits and _, starting with a letter.")
                failed = True
            if key in FEED_KEYS and qtype not in TEXT_TYPES:
                _error(
                    row.key,
                    f"“{key}” answers feed {FEED_KEYS[key]}, which reads text: make this a short or long text question, or use another key.",
                )
                failed = True
            if key in keys_seen:
                if row.key.data:
                    _error(row.key, f"The key “{key}” is already used by another question; each key once.")
                    failed = True
                else:
                    n = 2
                    while f"{key[:37]}_{n}" in keys_seen:
                        n += 1
                    key = f"{key[:37]}_{n}"
            keys_seen[key] = index
            opts: list[str] = []
            if qtype in CHOICE_TYPES:
                opts = option_lines(row.options_text.data)
                dupes = sorted({o for o in opts if opts.count(o) > 1})
                if len(opts) < 2:
                    _error(row.options_text, "Give at least two options, one per line.")
                    failed = True
                elif dupes:
                    _error(row.options_text, f"Give each option once (“{dupes[0]}” appears twice).")
                    failed = True
                elif any(len(o) > OPTION_MAX for o in opts):
                    _error(row.options_text, f"Keep each option to {OPTION_MAX} characters.")
                    failed = True
            if row.shared.data and qtype not in TEXT_TYPES:
                _error(
                    row.shared,
                    "Only text answers can be shared in the learnings feed: make this a text question, or untick this.",
                )
                failed = True
            category = ""
            if qtype == QuestionType.REASON_CODES.value:
                category = row.code_category.data or ""
                if not category:
                    _error(row.code_category, "Choose which codes this question offers.")
                    failed = True
            spec = QuestionSpec(
                key=key,
                qtype=qtype,
                prompt=row.prompt.data or "",
                help_text=row.help_text.data or "",
                required=bool(row.required.data),
                options=opts,
                code_category=category,
                ask_words=bool(row.ask_words.data) and qtype == QuestionType.REASON_CODES.value,
                shared_in_feed=bool(row.shared.data),
            )
            position = row.position.data if isinstance(row.position.data, int) else 10_000
            # Rows are filled numbered 1, 2, 3...; one given another number was moved there on purpose,
            # so on a tie it takes the place rather than queueing behind the question already in it.
            moved = 0 if position != index + 1 else 1
            kept.append(((position, moved, index), spec))
        if not kept and not failed:
            self.form_errors.append(
                "A template needs at least one question: add one, or keep one you marked to remove."
            )
            return None
        if failed:
            return None
        return [spec for _, spec in sorted(kept, key=lambda item: item[0])]


class CodeForm(TandemForm):
    """Add a reason code."""

    saves_to = (ReasonCode,)

    category = SelectField(
        "Category", choices=select_options((c.value, label) for c, label in CODE_CATEGORY_LABELS.items())
    )
    label = StringField(
        "Label",
        validators=[
            DataRequired("Give the code a label."),
            *from_column(ReasonCode.label, message="Keep the label to %(max)d characters."),
        ],
        filters=[strip],
    )
    description = TextAreaField(
        "Description",
        validators=[Length(max=1000, message="Keep the description to 1,000 characters.")],
        filters=[strip],
        description="What the code means, shown to people choosing it.",
    )


class CodeEditForm(TandemForm):
    """Change a code's label or description (its category stays: old answers depend on it)."""

    saves_to = (ReasonCode,)

    label = StringField(
        "Label",
        validators=[
            DataRequired("Give the code a label."),
            *from_column(ReasonCode.label, message="Keep the label to %(max)d characters."),
        ],
        filters=[strip],
        description="Old debriefs that used this code show the new label.",
    )
    description = TextAreaField(
        "Description",
        validators=[Length(max=1000, message="Keep the description to 1,000 characters.")],
        filters=[strip],
    )
