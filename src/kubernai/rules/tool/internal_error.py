"""KAI002 internal-error."""

from __future__ import annotations

from kubernai.rules.base import Rule, Severity


class InternalError(Rule):
    """A rule raised an exception on an object: a bug in kubernai, not in the manifest.

    ## Mechanism
    The engine runs every rule inside a guard. When a rule raises, the guard
    records this finding, naming the rule and the object, and the run goes
    on with the other rules and objects. The rest of the report stands, but
    the named rule did not check the named object. The exit code is 3.

    ## Example
    ```yaml
    # any object on which a rule crashes
    ```

    ## Use instead
    ```yaml
    # nothing to change in the manifest; report the finding with the object
    ```

    ## References
    - `kubernai check --debug` prints the rule's traceback for a bug report.
    """

    code = "KAI002"
    name = "internal-error"
    severity = Severity.ERROR
    mechanism = ""
    tool_level = True
