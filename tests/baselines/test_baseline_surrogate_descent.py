"""First-order rules (gesbench.ges.updates) and the surrogate-following baseline."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.baselines.surrogate_descent import SurrogateDescent
from gesbench.core.budget import Budget
from gesbench.core.errors import HyperparameterError
from gesbench.ges.updates import UPDATE_RULES, UpdateParams, UpdateRule


def rule(update: str, **params: float) -> UpdateRule:
    return UpdateRule(UpdateParams(update=update, **params), 2)


def test_sgd_and_momentum_steps_by_hand() -> None:
    x, g1, g2 = np.zeros(2), np.array([1.0, -2.0]), np.array([0.5, 0.5])
    sgd = rule("sgd", lr=0.1)
    np.testing.assert_allclose(sgd.apply(x, g1), -0.1 * g1)
    heavy = rule("momentum", lr=0.1, momentum=0.5)
    x1 = heavy.apply(x, g1)
    np.testing.assert_allclose(x1, -0.1 * g1)
    np.testing.assert_allclose(heavy.apply(x1, g2), x1 - 0.1 * (0.5 * g1 + g2))
    nesterov = rule("nesterov", lr=0.1, momentum=0.5)
    x1 = nesterov.apply(x, g1)
    np.testing.assert_allclose(x1, -0.1 * (g1 + 0.5 * g1))
    m2 = 0.5 * g1 + g2
    np.testing.assert_allclose(nesterov.apply(x1, g2), x1 - 0.1 * (g2 + 0.5 * m2))


def test_adam_first_steps_have_size_lr() -> None:
    # bias correction makes Adam's first step lr * sign(g) (up to eps), whatever |g|
    adam = rule("adam", lr=0.01)
    g = np.array([1e-3, -50.0])
    x1 = adam.apply(np.zeros(2), g)
    np.testing.assert_allclose(x1, -0.01 * np.sign(g), rtol=1e-4)
    # a constant gradient keeps the step at lr
    x2 = adam.apply(x1, g)
    np.testing.assert_allclose(x2 - x1, -0.01 * np.sign(g), rtol=1e-4)


@pytest.mark.parametrize("update", UPDATE_RULES)
def test_every_rule_converges_on_a_quadratic_with_the_exact_gradient(update: str) -> None:
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.05}[update]
    target = np.linspace(-1, 1, 8)
    opt = SurrogateDescent(rng=0, update=update, lr=lr)
    res = opt.minimize(
        lambda x: 0.5 * np.sum((x - target) ** 2), lambda x: x - target, np.zeros(8), budget=400
    )
    assert res.fun < 1e-4
    assert res.evaluations == 0 and res.gradient_calls == 400


def test_biased_surrogate_converges_to_the_wrong_point() -> None:
    # the baseline's defining weakness: a constant bias b moves its fixed point to x* - b
    bias = np.array([0.3, -0.3])
    res = SurrogateDescent(rng=0, lr=0.2).minimize(
        lambda x: 0.5 * x @ x, lambda x: x + bias, np.ones(2), budget=300
    )
    np.testing.assert_allclose(res.x, -bias, atol=1e-8)


def test_cannot_run_on_an_evaluation_budget() -> None:
    with pytest.raises(Exception, match="spent nothing of its 'evaluations' budget"):
        SurrogateDescent(rng=0).minimize(
            lambda x: x @ x, lambda x: 2 * x, np.ones(2), Budget("evaluations", 10)
        )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"update": "adamw"}, "Did you mean 'adam'"),
        ({"lr": 0.0}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"adam_beta2": -0.1}, "adam_beta2"),
        ({"adam_eps": 0.0}, "adam_eps"),
        ({"learning_rate": 0.1}, "learning_rate"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict[str, object], field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        SurrogateDescent(rng=0, **params)
