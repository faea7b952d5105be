"""A/B experiments: assignment, the experiments themselves, their metrics, statistics and conversions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from ._conversions import ConversionResult as ConversionResult, record_conversion as record_conversion
    from ._experiments import (
        ALLOCATIONS as ALLOCATIONS,
        METRICS as METRICS,
        ABReport as ABReport,
        ExperimentInfo as ExperimentInfo,
        all_reports as all_reports,
        create_experiment as create_experiment,
        experiment_report as experiment_report,
        list_experiments as list_experiments,
        parse_variant_spec as parse_variant_spec,
        promote_winners as promote_winners,
        resume_experiment as resume_experiment,
        stop_experiment as stop_experiment,
    )
    from ._variants import (
        Assignment as Assignment,
        Experiment as Experiment,
        choose as choose,
        load_experiments as load_experiments,
        record_assignment as record_assignment,
        sync_experiments as sync_experiments,
    )
else:
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {
        "._conversions": ("ConversionResult", "record_conversion",),
        "._experiments": (
            "ABReport", "ALLOCATIONS", "ExperimentInfo", "METRICS", "all_reports", "create_experiment",
            "experiment_report", "list_experiments", "parse_variant_spec", "promote_winners", "resume_experiment",
            "stop_experiment",
        ),
        "._variants": (
            "Assignment", "Experiment", "choose", "load_experiments", "record_assignment", "sync_experiments",
        ),
    })
