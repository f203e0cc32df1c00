"""Rebuild ``monthly_panel.csv`` from the data files inside the wheels named in
``PANEL.md`` (statsmodels 0.15.0, sktime 1.2.0, pmdarima 2.1.1).

    pip download --no-deps --only-binary=:all: statsmodels==0.15.0 sktime==1.2.0 \
        pmdarima==2.1.1 -d wheels
    uv run python benchmarks/data/extract_panel.py wheels benchmarks/data/monthly_panel.csv

The wheels are read as zip files; nothing is installed or imported from them (pmdarima's
wineind series is a literal array in a .py file and is parsed, not executed).
"""

from __future__ import annotations

import ast
import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd


def _member(wheels: Path, package: str, path: str) -> bytes:
    wheel = next(wheels.glob(f"{package}-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        return z.read(path)


def _csv(wheels, package, path, **kw) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(_member(wheels, package, path)), **kw)


def _monthly(values, first: str) -> pd.Series:
    periods = pd.period_range(first, periods=len(values), freq="M")
    return pd.Series(np.asarray(values, dtype=float), index=periods)


def _literal_array(source: str, function: str) -> list[float]:
    """The first ``np.array([...])`` literal in ``function`` of a module's source."""
    tree = ast.parse(source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "array":
            return ast.literal_eval(node.args[0])
    raise ValueError(f"no array literal in {function}")


def panel(wheels: Path) -> dict[str, pd.Series]:
    out = {}
    air = _csv(wheels, "sktime", "sktime/datasets/data/Airline/Airline.csv")
    out["airline"] = _monthly(air["Passengers"], air["Date"].iloc[0])
    sham = _csv(wheels, "sktime", "sktime/datasets/data/ShampooSales/ShampooSales.csv")
    out["shampoo"] = _monthly(sham["Sales"], sham["Time"].iloc[0])
    pbs = _csv(wheels, "sktime", "sktime/datasets/data/PBS_dataset/PBS_dataset.csv")
    first = pd.Period(pd.to_datetime(pbs["Month"].iloc[0], format="%Y %b"), "M")
    out["pbs_scripts"] = _monthly(pbs["Scripts"], str(first))
    belts = _csv(wheels, "sktime", "sktime/datasets/data/seatbelts/seatbelts.csv")
    out["seatbelts_ksi"] = _monthly(belts["KSI"], belts.iloc[0, 0][:7])
    co2 = _csv(wheels, "statsmodels", "statsmodels/datasets/co2/co2.csv")
    weekly = pd.Series(co2["co2"].to_numpy(),
                       index=pd.to_datetime(co2["date"].astype(str), format="%Y%m%d"))
    monthly = weekly.resample("MS").mean()  # mean of the month's weekly readings
    monthly = monthly.interpolate()  # 5 months without a reading: linear between neighbours
    out["co2"] = _monthly(monthly.round(3), monthly.index[0].strftime("%Y-%m"))
    elec = _csv(wheels, "statsmodels", "statsmodels/datasets/elec_equip/elec_equip.csv")
    first = pd.to_datetime(elec.iloc[0, 0], format="%b-%d-%Y").strftime("%Y-%m")
    out["elec_equip"] = _monthly(elec.iloc[:, 1], first)
    nino = _csv(wheels, "statsmodels", "statsmodels/datasets/elnino/elnino.csv")
    out["elnino_sst"] = _monthly(nino.iloc[:, 1:13].to_numpy().ravel(), f"{nino['YEAR'][0]}-01")
    src = _member(wheels, "pmdarima", "pmdarima/datasets/wineind.py").decode()
    out["wineind"] = _monthly(_literal_array(src, "load_wineind"), "1980-01")
    spots = gzip.decompress(_member(wheels, "pmdarima", "pmdarima/datasets/data/sunspots.txt.gz"))
    out["sunspots"] = _monthly([float(v) for v in spots.split()], "1749-01")
    return out


def main() -> None:
    wheels, target = Path(sys.argv[1]), Path(sys.argv[2])
    rows = []
    for name, s in panel(wheels).items():
        if s.isna().any():
            raise SystemExit(f"{name}: missing values")
        rows.append(pd.DataFrame({"series": name, "period": s.index.strftime("%Y-%m"),
                                  "quantity": s.to_numpy()}))
    frame = pd.concat(rows, ignore_index=True)
    frame.to_csv(target, index=False, float_format="%.10g", lineterminator="\n")
    print(frame.groupby("series", sort=False)["period"].agg(["first", "last", "count"]))


if __name__ == "__main__":
    main()
