"""The `@type` values of the session-stats file (ton-formats.md §1.4, §3, §6).

Only these names ever become label values; anything else is an unknown type, counted without its name.
"""

COLLATED_BLOCK = "validatorStats.collatedBlock"
VALIDATED_BLOCK = "validatorStats.validatedBlock"
CONSENSUS_EVENTS = "consensus.stats.events"

CURRENT: tuple[str, ...] = (COLLATED_BLOCK, VALIDATED_BLOCK, CONSENSUS_EVENTS)

LEGACY: tuple[str, ...] = (
    "validatorStats.stats",
    "validatorStats.newValidatorGroup",
    "validatorStats.endValidatorGroup",
    "validatorStats.collatorNodeResponse",
    "validatorSession.stats",
    "validatorSession.statsCollatedBlock",
    "validatorSession.newValidatorGroupStats",
    "validatorSession.endValidatorGroupStats",
)

KNOWN: frozenset[str] = frozenset(CURRENT + LEGACY)
