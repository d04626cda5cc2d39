"""The strings inside records: td PerfLog `time_stats` and `work_time_*_stats`."""

import math

import orjson
import pytest

from tests.conftest import real_lines
from ton_exporter.parsers.perflog import action_durations, action_name
from ton_exporter.parsers.session_stats import COLLATED_RAW, VALIDATED_RAW, collated_row, validated_row
from ton_exporter.parsers.work_time import COLLATION, COLLATION_STAGES, VALIDATION, VALIDATION_STAGES
from ton_exporter.parsers.work_time_arrays import decode_work_times
from ton_exporter.pipeline import _decode


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


class TestWorkTimeArrays:
    """Decoding work times with orjson (work_time_arrays.py) is an optimisation: rows come out the same."""

    @pytest.mark.parametrize("node", [1, 2])
    def test_every_real_row_parses_the_same_both_ways(self, node: int) -> None:
        parse = {"validatorStats.collatedBlock": collated_row, "validatorStats.validatedBlock": validated_row}
        compared = 0
        for line in real_lines(node):
            plain, fast = orjson.loads(line), _decode(line)
            if plain["@type"] not in parse:
                assert fast == plain
                continue
            assert isinstance(fast["work_time_real_stats"], list)
            assert isinstance(fast["work_time_cpu_stats"], list)
            slow_row, fast_row = parse[plain["@type"]](plain), parse[plain["@type"]](fast)
            assert fast_row.perflog == slow_row.perflog
            assert fast_row.values == pytest.approx(slow_row.values, nan_ok=True, abs=1e-12)
            compared += 1
        assert compared == (92 if node == 1 else 88)

    def test_other_key_sets_stay_strings_and_are_parsed_by_key(self) -> None:
        record = orjson.loads(real_lines(1)[0])
        record["work_time_real_stats"] = "total=0.5 trx_tvm=1e-3 preinit=NaN"
        decoded = _decode(orjson.dumps(record))
        assert decoded["work_time_real_stats"] == record["work_time_real_stats"]
        assert isinstance(decoded["work_time_cpu_stats"], list)
        values = collated_row(decoded).values
        assert math.isnan(values[COLLATED_RAW.index("real.preinit")])  # "NaN" is no measurement
        assert values[COLLATED_RAW.index("real.trx_tvm")] == 0.001
        assert values[COLLATED_RAW.index("real.other")] == 0.499

    def test_a_value_that_does_not_decode_stays_a_string(self) -> None:
        record = orjson.loads(real_lines(1)[1])  # a validatedBlock
        record["work_time_real_stats"] = record["work_time_real_stats"].replace("total=0.002940", "total=0.00.2940")
        decoded = _decode(orjson.dumps(record))
        assert decoded["work_time_real_stats"].startswith("total=0.00.2940")
        assert isinstance(decoded["work_time_cpu_stats"], list)
        row = validated_row(decoded)
        assert math.isnan(row.values[VALIDATED_RAW.index("real.trx_tvm")])  # malformed: left out
        assert row.values[VALIDATED_RAW.index("cpu.trx_tvm")] == 0.000129

    def test_records_without_work_times_are_left_alone(self) -> None:
        record = {"@type": "validatorStats.validatedBlock", "x": 1}
        decode_work_times(b'{"@type":"validatorStats.validatedBlock","x":1}', record)
        assert record == {"@type": "validatorStats.validatedBlock", "x": 1}
