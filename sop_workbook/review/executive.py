"""6 Executive: the one printable page's lists — ``exec_needed`` (open decisions needed,
at most 6, by decide-by date, topped up with the plan's gaps not yet taken up in
Pre-S&OP) and ``exec_actions`` (open actions, at most 10, by due date)."""

from __future__ import annotations

import pandas as pd

from .inputs import Inputs, is_open, listed_actions


def executive_stage(inputs: Inputs, gaps: pd.DataFrame | None = None
                    ) -> dict[str, pd.DataFrame]:
    """The Executive sheet's tables (module docstring); ``gaps``: Pre-S&OP's
    ``presop_gaps``."""
    dec = inputs.decisions
    if len(dec) and "gap" in dec:
        dec = dec[dec["gap"].notna() & (dec["gap"].astype(str).str.strip() != "")]
        dec = dec[is_open(dec)]
        dec = dec.assign(_d=pd.to_datetime(dec.get("decide_by"), errors="coerce"))
        needed = dec.sort_values("_d", na_position="last").head(6)[
            ["gap", "owner", "decide_by", "recommendation"]]
    else:
        needed = pd.DataFrame(columns=["gap", "owner", "decide_by", "recommendation"])
    if gaps is not None and len(gaps) and len(needed) < 6:
        extra = pd.DataFrame({"gap": gaps["gap"], "owner": "Facilitator",
                              "decide_by": None,
                              "recommendation": gaps["options"].astype(str).str.split(
                                  " | ", regex=False).str[0]})
        needed = pd.concat([needed, extra.head(6 - len(needed))], ignore_index=True) \
            if len(needed) else extra.head(6)
    act = listed_actions(inputs)
    if act is not None:
        due = pd.to_datetime(act.get("due"), errors="coerce")
        open_actions = act[is_open(act)].assign(_d=due).sort_values("_d", na_position="last")
        exec_actions = open_actions.head(10)[["action", "owner", "due", "status"]]
    else:
        exec_actions = pd.DataFrame(columns=["action", "owner", "due", "status"])
    return {"exec_needed": needed.reset_index(drop=True),
            "exec_actions": exec_actions.reset_index(drop=True)}
