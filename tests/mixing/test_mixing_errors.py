"""Bad input fails with a message naming the row, column or key, before anything is written."""

import polars as pl
import pytest
from pydantic import ValidationError

from mixing import MixConfig, PhaseConfig, plan_mixture


def _inventory(**columns):
    data = {"source": ["web", "gsm"], "domain": ["general", "math"], "num_tokens": [1_000_000, 200_000]}
    data.update(columns)
    return pl.DataFrame(data)


def _config(**phase):
    fields = {"name": "p", "tokens": 128_000}
    fields.update(phase)
    return MixConfig(seq_len=128, phases=[PhaseConfig(**fields)], min_general_share=0.5)


@pytest.mark.parametrize(
    ("inventory", "pattern"),
    [
        (_inventory(num_tokens=[1_000_000, 0]), r"row 1 \(source 'gsm'\): num_tokens must be > 0, got 0"),
        (_inventory(num_tokens=[-5, 10]), r"row 0 \(source 'web'\): num_tokens must be > 0"),
        (_inventory().drop("domain"), r"missing column\(s\) \['domain'\]"),
        (_inventory(source=["web", "web"]), r"row 1 \(source 'web'\): source must be unique"),
        (_inventory(mean_quality=[0.5, 1.7]), r"row 1 .*mean_quality must be in \[0, 1\]"),
        (_inventory(domain=["general", None]), r"row 1 .*domain must not be null"),
    ],
)
def test_bad_inventory(inventory, pattern):
    with pytest.raises(ValueError, match=pattern):
        plan_mixture(inventory, _config())


def test_unknown_domain_and_source_keys():
    with pytest.raises(ValueError, match=r"phases\[0\] \('p'\)\.domain_targets\.maths: unknown domain"):
        plan_mixture(_inventory(), _config(domain_targets={"general": 0.5, "maths": 0.5}))
    with pytest.raises(ValueError, match=r"source_targets\.wiki: unknown source"):
        plan_mixture(_inventory(), _config(source_targets={"web": 0.5, "wiki": 0.5}))
    with pytest.raises(ValueError, match=r"general_domains: none of \['web_text'\]"):
        plan_mixture(
            _inventory(),
            MixConfig(
                seq_len=128,
                phases=[PhaseConfig(name="p", tokens=128_000)],
                general_domains=["web_text"],
                min_general_share=0.5,
            ),
        )


def test_bad_config_values():
    with pytest.raises(ValidationError, match="domain_targets: shares must sum to 1, got 0.9"):
        PhaseConfig(name="p", tokens=10, domain_targets={"general": 0.5, "math": 0.4})
    with pytest.raises(ValidationError, match=r"min_general_share must be in \[0, 1\], got 1.2"):
        MixConfig(phases=[PhaseConfig(name="p", tokens=10)], min_general_share=1.2)
    with pytest.raises(ValidationError, match="exactly one of tokens or fraction"):
        PhaseConfig(name="p")
    with pytest.raises(ValidationError, match="set total_tokens"):
        MixConfig(phases=[PhaseConfig(name="p", fraction=0.5)])
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        MixConfig(phases=[PhaseConfig(name="p", tokens=10)], min_general_shar=0.5)
    with pytest.raises(ValueError, match="budgets sum to 5,000 tokens but total_tokens is 10,000"):
        plan_mixture(
            _inventory(),
            MixConfig(total_tokens=10_000, seq_len=10, phases=[PhaseConfig(name="p", fraction=0.5)]),
        )


def test_phase_with_no_feasible_source():
    # every math source is exhausted by its epoch cap: the phase cannot be filled
    config = MixConfig(
        seq_len=128,
        max_epochs=1.0,
        phases=[PhaseConfig(name="math_only", tokens=512_000, domain_targets={"math": 1.0})],
    )
    with pytest.raises(ValueError, match=r"phase 'math_only'.*'gsm'.*max_epochs.*shortfall 312,064 tokens"):
        plan_mixture(_inventory(), config)


def test_yaml_errors_name_file_and_key(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text("seq_len: 128\nphases:\n  - {name: p, tokens: 100, strategy: magic}\n")
    with pytest.raises(ValueError, match=r"mix.yaml: phases.0.strategy"):
        MixConfig.from_yaml(path)
    with pytest.raises(FileNotFoundError):
        MixConfig.from_yaml(tmp_path / "missing.yaml")
