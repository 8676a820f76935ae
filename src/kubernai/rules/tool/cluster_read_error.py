"""KAI003 cluster-read-error."""

from __future__ import annotations

from kubernai.rules.base import Rule, Severity


class ClusterReadError(Rule):
    """A resource of the cluster could not be read, so the audit did not check it.

    ## Mechanism
    `kubernai audit` lists every resource the rules need, one API request
    (and its pages) per resource. When the API server refuses a list (403
    Forbidden: the account lacks `list` on it), keeps failing after the
    retries (429 Too Many Requests, 5xx) or does not answer within the
    request timeout, the audit records this finding for that resource and
    goes on with the others. The report is partial: no rule saw the objects
    of that resource, and relations to them are unknown. A cluster that
    cannot be reached at all is an error (exit code 2), not this finding.

    ## Example
    ```yaml
    # kubernai audit, with a ClusterRole that does not grant list on pods:
    # KAI003 cannot list pods: 403 Forbidden: pods is forbidden: User
    #   "system:serviceaccount:kubernai:kubernai" cannot list resource "pods"
    ```

    ## Use instead
    ```yaml
    # grant get/list/watch on every resource the audit reads: apply the
    # least-privilege ClusterRole of deploy/rbac.yaml, or run kubernai with
    # an account that can read the cluster (never Secrets: they are not read)
    ```

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/
    - https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
    """

    code = "KAI003"
    name = "cluster-read-error"
    severity = Severity.WARNING
    mechanism = ""
    tool_level = True
