"""The pytest fixtures shipped for users of the simulator."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_kube_sim_fixture_serves_and_stops(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["qengine.testing.kube.fixtures"]\n')
    pytester.makepyfile(
        """
        import json, ssl, urllib.request

        def test_uses_it(kube_sim, kube_sim_kubeconfig):
            config = json.loads(kube_sim_kubeconfig.read_text())
            assert config["clusters"][0]["cluster"]["server"] == kube_sim.url
            tls = ssl.create_default_context(cadata=kube_sim.ca_pem.decode())
            request = urllib.request.Request(kube_sim.url + "/api/v1/namespaces")
            request.add_header("Authorization", "Bearer " + kube_sim.token)
            with urllib.request.urlopen(request, context=tls, timeout=5) as resp:
                assert resp.status == 200
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
