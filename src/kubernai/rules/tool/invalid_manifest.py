"""KAI001 invalid-manifest."""

from __future__ import annotations

from kubernai.rules.base import Rule, Severity


class InvalidManifest(Rule):
    """A file or document that could not be read as a Kubernetes manifest.

    ## Mechanism
    The YAML does not parse, the file is not UTF-8 text, or it is larger or
    more deeply nested than kubernai reads. `kubectl apply` would refuse the
    same document, and none of the objects in it were checked. In Helm
    output this usually means a template rendered invalid YAML; in a chart's
    source folder it means unrendered `{{ }}` templates (run `helm template`
    and pipe the result to `kubernai check -`).

    ## Example
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: broken
     data: {}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: fixed
    data: {}
    ```

    ## References
    - https://yaml.org/spec/1.1/
    - https://helm.sh/docs/helm/helm_template/
    """

    code = "KAI001"
    name = "invalid-manifest"
    severity = Severity.ERROR
    mechanism = ""
    tool_level = True
