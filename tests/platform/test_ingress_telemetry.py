"""Nothing the platform installs phones home by default: F5's NGINX Ingress Controller sends its
product telemetry only when a stack turns `ingress.telemetryReporting` on."""
import pytest

from platform_ops.config import ConfigError, load_config, stack_file
from platform_ops.contract import PROJECT
from platform_ops.render.program import render_stack

STACKS = ("dev", "staging", "prod")


def with_ingress(stack: str, **settings) -> dict:
    """The stack's config with `settings` added to its ingress section."""
    config = stack_file(stack)
    config[f"{PROJECT}:ingress"] = {**config[f"{PROJECT}:ingress"], **settings}
    return config


def settings_of(config: dict) -> dict:
    """The `platform-ops:*` settings of a config block, keys without the project prefix."""
    return {key[len(PROJECT) + 1:]: value for key, value in config.items()}


def telemetry_value(render) -> dict:
    """The chart value that sets the controller's -enable-telemetry-reporting flag."""
    return render.named("ingress-controller").inputs["values"]["controller"]["telemetryReporting"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_installs_the_controller_with_telemetry_reporting_off(rendered, stack):
    assert telemetry_value(rendered(stack)) == {"enable": False}


@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_file_turns_telemetry_reporting_on(stack):
    assert load_config(stack, settings_of(stack_file(stack))).ingress.telemetry_reporting is False


def test_a_stack_that_turns_telemetry_reporting_on_passes_it_to_the_chart():
    render = render_stack("staging", config=with_ingress("staging", telemetryReporting=True))
    assert telemetry_value(render) == {"enable": True}


def test_a_stack_that_says_false_keeps_it_off():
    render = render_stack("prod", config=with_ingress("prod", telemetryReporting=False))
    assert telemetry_value(render) == {"enable": False}


@pytest.mark.parametrize("value, shown", [("false", '"false"'), ("yes", '"yes"'), (1, "1"), (None, "None")])
def test_telemetry_reporting_must_be_true_or_false(value, shown):
    with pytest.raises(ConfigError) as caught:
        load_config("dev", settings_of(with_ingress("dev", telemetryReporting=value)))
    assert str(caught.value) == (
        f"Pulumi.dev.yaml: platform-ops:ingress.telemetryReporting must be true or false, got {shown}")


def test_a_misspelt_telemetry_setting_is_refused():
    with pytest.raises(ConfigError) as caught:
        load_config("dev", settings_of(with_ingress("dev", telemetry=False)))
    assert str(caught.value) == (
        "Pulumi.dev.yaml: platform-ops:ingress.telemetry is not a known setting "
        "(known: controller, chart, chartVersion, namespace, className, telemetryReporting)")
