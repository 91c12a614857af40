"""Statistics over seeds: intervals, comparisons, power, variance by source, verdicts,
time to target (censored, with divergence as a competing outcome) and whole curves.

Pure functions over per-seed arrays (shape ``(n_seeds,)``) or study results, with
keyword-only options and frozen result dataclasses (``to_dict()`` gives JSON-ready
data). The seed is the unit of replication; every resampling function takes ``rng``
(None: a fixed seed, so reports are reproducible). ``analyze`` gathers everything
``jaxstab compare`` and the report show into one record. Reference:
docs/statistics.md.
"""

from jaxstab.stats._aggregate import aggregate as aggregate
from jaxstab.stats._analysis import Analysis as Analysis
from jaxstab.stats._analysis import selects_sources as selects_sources
from jaxstab.stats._analysis import SettingRow as SettingRow
from jaxstab.stats._analysis import analyze as analyze
from jaxstab.stats._best import Rank as Rank
from jaxstab.stats._best import Ranking as Ranking
from jaxstab.stats._best import Versus as Versus
from jaxstab.stats._best import VersusControl as VersusControl
from jaxstab.stats._best import compare_to_control as compare_to_control
from jaxstab.stats._best import rank_settings as rank_settings
from jaxstab.stats._compare import Comparison as Comparison
from jaxstab.stats._compare import TestResult as TestResult
from jaxstab.stats._compare import compare as compare
from jaxstab.stats._curves import CurveBand as CurveBand
from jaxstab.stats._curves import CurveTest as CurveTest
from jaxstab.stats._curves import curve_band as curve_band
from jaxstab.stats._curves import curve_test as curve_test
from jaxstab.stats._direction import guess_direction as guess_direction
from jaxstab.stats._divergence import DivergenceRate as DivergenceRate
from jaxstab.stats._divergence import DivergenceTest as DivergenceTest
from jaxstab.stats._divergence import divergence_rate as divergence_rate
from jaxstab.stats._divergence import divergence_test as divergence_test
from jaxstab.stats._effects import Effect as Effect
from jaxstab.stats._factorial import FactorEffect as FactorEffect
from jaxstab.stats._factorial import Factorial as Factorial
from jaxstab.stats._factorial import factorial as factorial
from jaxstab.stats._format import format_comparison_table as format_comparison_table
from jaxstab.stats._format import format_sequential_verdicts as format_sequential_verdicts
from jaxstab.stats._format import format_variance_table as format_variance_table
from jaxstab.stats._format import format_verdicts as format_verdicts
from jaxstab.stats._improvement import Profile as Profile
from jaxstab.stats._improvement import performance_profile as performance_profile
from jaxstab.stats._improvement import probability_of_improvement as probability_of_improvement
from jaxstab.stats._intervals import Interval as Interval
from jaxstab.stats._intervals import interval as interval
from jaxstab.stats._intervals import std_interval as std_interval
from jaxstab.stats._multiple import PairComparison as PairComparison
from jaxstab.stats._multiple import Pairwise as Pairwise
from jaxstab.stats._multiple import adjust_pvalues as adjust_pvalues
from jaxstab.stats._multiple import pairwise as pairwise
from jaxstab.stats._noise import NoiseBaseline as NoiseBaseline
from jaxstab.stats._noise import noise_baseline as noise_baseline
from jaxstab.stats._noise import noise_baselines as noise_baselines
from jaxstab.stats._omnibus import Omnibus as Omnibus
from jaxstab.stats._omnibus import omnibus as omnibus
from jaxstab.stats._omnibus import welch_anova as welch_anova
from jaxstab.stats._power import brown_forsythe_effect as brown_forsythe_effect
from jaxstab.stats._power import seeds_needed as seeds_needed
from jaxstab.stats._profiles import TimeProfile as TimeProfile
from jaxstab.stats._profiles import time_profile as time_profile
from jaxstab.stats._sequential import Look as Look
from jaxstab.stats._sequential import SequentialVerdict as SequentialVerdict
from jaxstab.stats._sequential import look_schedule as look_schedule
from jaxstab.stats._sequential import seeds_to_run as seeds_to_run
from jaxstab.stats._sequential import sequential_verdicts as sequential_verdicts
from jaxstab.stats._shape import Shape as Shape
from jaxstab.stats._shape import shape_of as shape_of
from jaxstab.stats._suite_tests import SuiteTest as SuiteTest
from jaxstab.stats._suite_tests import tasks_like_these_test as tasks_like_these_test
from jaxstab.stats._suite_tests import these_tasks_test as these_tasks_test
from jaxstab.stats._strata import Suite as Suite
from jaxstab.stats._strata import split_strata as split_strata
from jaxstab.stats._summary import Summary as Summary
from jaxstab.stats._summary import summarize as summarize
from jaxstab.stats._survcompare import TimeComparison as TimeComparison
from jaxstab.stats._survcompare import compare_time_to_target as compare_time_to_target
from jaxstab.stats._survcompare import (
    seeds_needed_time_to_target as seeds_needed_time_to_target,
)
from jaxstab.stats._survival import KaplanMeier as KaplanMeier
from jaxstab.stats._survival import TargetSummary as TargetSummary
from jaxstab.stats._survival import TimeToTarget as TimeToTarget
from jaxstab.stats._survival import kaplan_meier as kaplan_meier
from jaxstab.stats._survival import target_summary as target_summary
from jaxstab.stats._survival import time_to_target as time_to_target
from jaxstab.stats._targets import ClaimTest as ClaimTest
from jaxstab.stats._targets import TargetRow as TargetRow
from jaxstab.stats._targets import target_rows as target_rows
from jaxstab.stats._variance import SourceVariance as SourceVariance
from jaxstab.stats._variance import share_intervals as share_intervals
from jaxstab.stats._study import EXPLORE_RESAMPLES as EXPLORE_RESAMPLES
from jaxstab.stats._study import RNG_SEED as RNG_SEED
from jaxstab.stats._study import higher_is_better as higher_is_better
from jaxstab.stats._study import label as label
from jaxstab.stats._study import value_text as value_text
from jaxstab.stats._base import jsonable as jsonable
from jaxstab.stats._variance import test_noise_baseline as test_noise_baseline
from jaxstab.stats._variance import variance_by_source as variance_by_source
from jaxstab.stats._verdicts import Verdict as Verdict
from jaxstab.stats._verdicts import verdicts as verdicts
