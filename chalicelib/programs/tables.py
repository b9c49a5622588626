"""Programs in the main table, at platform level (not inside any program).

``PROGRAM#<id> / PROGRAM``   a program: name, time zone; listed under ``gsi1pk = PROGRAMS``
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import Gsi1, MainModel

LISTING = "PROGRAMS"


class ProgramItem(MainModel):
    platform = True
    program_id = UnicodeAttribute()
    name = UnicodeAttribute()
    timezone = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)      # None: never updated (0); updateProgram is conditional on it
    updated_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    listing = Gsi1()

    @staticmethod
    def key(program_id: str) -> tuple[str, str]:
        return f"PROGRAM#{program_id}", "PROGRAM"
