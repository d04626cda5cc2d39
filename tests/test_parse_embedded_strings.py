"""The strings inside records: td PerfLog `time_stats` and `work_time_*_stats`."""

import math

import orjson
import pytest

from tests.conftest import real_lines
from ton_exporter.parsers.perflog import action_durations, action_name
from ton_exporter.parsers.work_time import COLLATION, COLLATION_STAGES, VALIDATION, VALIDATION_STAGES


class TestPerfLog:
    def test_durations_summed_per_name_and_numbers_normalised(self) -> None:
        log = (
            "{{\n\t{do_collate:46004.028050->46004.033062(0.005012)}"
            "\n\t{auxiliary wait_block_state 7:1.0->1.5(0.500000)}"
            "\n\t{auxiliary wait_block_state 12:1.0->1.25(0.250000)}"
            "\n\t{get_top_masterchain_state_block:2.0->2.1(0.100000)}"
            "\n\t{get_top_masterchain_state_block:3.0->3.2(0.200000)}\n}"
        )
        assert action_durations(log) == pytest.approx(
            {"do_collate": 0.005012, "auxiliary wait_block_state N": 0.75, "get_top_masterchain_state_block": 0.3}
        )

    def test_unfinished_actions_are_dropped_and_errors_kept(self) -> None:
        log = "{{\n\t{wait:5.0->0.000000(-5.000000)}\n\t{query:1.0->2.0(1.000000)[Error : 652 : timeout]}\n}"
        assert action_durations(log) == {"query": 1.0}

    @pytest.mark.parametrize(
        ("raw", "name"),
        [
            ("wait_block_data #-1", "wait_block_data #N"),
            ("wait_block_message_queue #1", "wait_block_message_queue #N"),
            ("auxiliary wait_block_state 28", "auxiliary wait_block_state N"),
            ("mc wait_block_state", "mc wait_block_state"),
            ("do_collate", "do_collate"),
        ],
    )
    def test_action_names_are_bounded(self, raw: str, name: str) -> None:
        assert action_name(raw) == name

    def test_garbage_gives_nothing(self) -> None:
        assert action_durations("not a perflog at all {x:y}") == {}


class TestWorkTime:
    def test_current_string_form(self) -> None:
        text = " ".join(
            ["total=1.000000"] + [f"{name}=0.010000" for name in COLLATION_STAGES if name != "optimistic_apply"]
        )
        values = COLLATION.values(text)
        assert values[: len(COLLATION_STAGES) - 1] == (0.01,) * (len(COLLATION_STAGES) - 1)
        assert math.isnan(values[COLLATION_STAGES.index("optimistic_apply")])
        assert values[-1] == pytest.approx(1.0 - 0.13)

    def test_older_key_sets_parse_by_key(self) -> None:
        # v2026.02-1 validation: `total trx_tvm trx_storage_stat trx_other`
        values = VALIDATION.values("total=0.004000 trx_tvm=0.001000 trx_storage_stat=0.000500 trx_other=0.000500")
        assert values[VALIDATION_STAGES.index("trx_tvm")] == 0.001
        assert math.isnan(values[VALIDATION_STAGES.index("unpack_state")])
        assert values[-1] == pytest.approx(0.002)

    def test_unknown_keys_fall_into_other(self) -> None:
        values = VALIDATION.values("total=0.004000 trx_tvm=0.001000 brand_new_stage=0.002000")
        assert values[-1] == pytest.approx(0.003)

    def test_absent_is_all_nan(self) -> None:
        assert all(math.isnan(v) for v in COLLATION.values(None))

    @pytest.mark.parametrize("bad", ["total=abc", "total", 17, ["total=1"], "total=inf trx_tvm=1.0"])
    def test_malformed_values_raise(self, bad: object) -> None:
        with pytest.raises(ValueError):  # noqa: PT011  (the message is for the log, not the caller)
            VALIDATION.values(bad)


class TestWorkTimeColumns:
    """Parsing the work times of many rows at once is an optimisation: the columns equal value-by-value parsing."""

    @pytest.mark.parametrize("node", [1, 2])
    @pytest.mark.parametrize("field", ["work_time_real_stats", "work_time_cpu_stats"])
    def test_real_rows_parse_the_same_at_once_and_one_by_one(self, node: int, field: str) -> None:
        for kind, fmt in (("collatedBlock", COLLATION), ("validatedBlock", VALIDATION)):
            values = [r[field] for r in map(orjson.loads, real_lines(node)) if r["@type"] == "validatorStats." + kind]
            assert fmt._columns_at_once(values) is not None  # the fast path is the one taken
            columns, failed = fmt.columns(values)
            assert failed == []
            one_by_one = list(zip(*map(fmt.values, values), strict=True))
            assert len(columns) == len(one_by_one) == fmt.width
            for fast, slow in zip(columns, one_by_one, strict=True):
                assert list(fast) == pytest.approx(list(slow), nan_ok=True, abs=1e-12)

    def test_other_key_sets_and_parsed_values_take_the_row_by_row_path(self) -> None:
        current = orjson.loads(real_lines(1)[1])["work_time_real_stats"]  # validatedBlock
        older = "total=0.004000 trx_tvm=0.001000 trx_storage_stat=0.000500 trx_other=0.000500"
        columns, failed = VALIDATION.columns([current, older, VALIDATION.values(older), None])
        trx_tvm = columns[VALIDATION_STAGES.index("trx_tvm")]
        assert list(trx_tvm[:3]) == [0.000129, 0.001, 0.001]
        assert math.isnan(trx_tvm[3])  # absent
        assert columns[-1][1] == pytest.approx(0.002)  # other: total - the stages this release knew
        assert failed == []

    def test_malformed_values_are_reported_and_left_out(self) -> None:
        current = orjson.loads(real_lines(1)[1])["work_time_real_stats"]
        broken = current.replace("total=0.002940", "total=0.00.2940")
        columns, failed = VALIDATION.columns([current, broken, 17])
        assert failed == [1, 2]
        assert math.isnan(columns[0][1])
        assert columns[VALIDATION_STAGES.index("trx_tvm")][0] == 0.000129
