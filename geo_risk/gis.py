"""GIS hand-off: one GeoPackage with the run's layers and a QGIS style per layer.

``risk.gpkg`` holds three layers, each styled with the classes and colours of the map legend
(:mod:`geo_risk.render.map_style` and :mod:`geo_risk.render.map_encode` hold the one
definition, shared with ``map.html`` and ``map.png``):

- ``risk_grid``: the H3 cells of ``risk_grid.parquet``, graduated on ``risk``;
- ``admin_matrix``: the admin units with the matrix columns, categorised on ``level``;
- ``restrictions``: access restrictions in force in the week, categorised on ``severity``.

Each style is written as ``<layer>.qml`` beside the GeoPackage and stored in the
GeoPackage's ``layer_styles`` table as the layer's default, so QGIS draws the layers with
the map's classes as soon as they are added. The file is the same, byte for byte, for the
same inputs (the GeoPackage's timestamps are set to the forecast week).
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from .render.map import LEVEL_COLOURS, RISK_BREAKS, RISK_COLOURS

# Not render.static: that imports matplotlib, which writing the GeoPackage does not need.
from .render.map_encode import risk_class_labels
from .render.map_style import SEVERITY_COLOURS, SEVERITY_TEXT

__all__ = ["GPKG_NAME", "LAYERS", "qml_categorised", "qml_graduated", "write_gis"]

GPKG_NAME = "risk.gpkg"
#: Layer name -> the field its style classifies.
LAYERS = {"risk_grid": "risk", "admin_matrix": "level", "restrictions": "severity"}
RESTRICTION_COLUMNS = ("restriction_id", "start_date", "end_date", "cause", "severity")
_QGIS_VERSION = "3.28.0"


def _rgba(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _fill_symbol(parent: ET.Element, name: str, colour: str, *, style: str = "solid",
                 outline: str = "#ffffff", outline_width: float = 0.1) -> None:
    symbol = ET.SubElement(parent, "symbol", type="fill", name=name, alpha="1",
                           clip_to_extent="1", force_rhr="0")
    layer = ET.SubElement(symbol, "layer", attrib={"class": "SimpleFill", "enabled": "1",
                                                   "locked": "0", "pass": "0"})
    props = {"color": _rgba(colour), "style": style, "outline_color": _rgba(outline),
             "outline_style": "solid", "outline_width": str(outline_width),
             "outline_width_unit": "MM", "joinstyle": "bevel"}
    options = ET.SubElement(layer, "Option", type="Map")
    for k, v in props.items():  # QGIS >= 3.26 reads Option, older releases read prop
        ET.SubElement(options, "Option", type="QString", name=k, value=v)
    for k, v in props.items():
        ET.SubElement(layer, "prop", k=k, v=v)


def _document(renderer: ET.Element) -> bytes:
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology")
    root.append(renderer)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.indent(root)
    return (b"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="utf-8") + b"\n")


def qml_graduated(*, field: str, breaks: Sequence[float], colours: Sequence[str],
                  labels: Sequence[str], low: float = 0.0, high: float = 1.0) -> bytes:
    """A QGIS style (QML) colouring polygons by ranges of a numeric field.

    Parameters
    ----------
    field : str
        The field classified.
    breaks : sequence of float
        Upper bounds of every class but the last (``len(colours) - 1`` values).
    colours : sequence of str
        ``#rrggbb`` colour per class.
    labels : sequence of str
        Legend text per class.
    low, high : float
        Lower bound of the first class and upper bound of the last.

    Returns
    -------
    bytes
        The QML document (UTF-8).
    """
    if not len(breaks) + 1 == len(colours) == len(labels):
        raise ValueError("need one colour and one label per class (breaks + 1)")
    bounds = [low, *breaks, high]
    renderer = ET.Element("renderer-v2", type="graduatedSymbol", attr=field,
                          graduatedMethod="GraduatedColor", symbollevels="0",
                          forceraster="0", enableorderby="0")
    ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (colour, label) in enumerate(zip(colours, labels, strict=True)):
        ET.SubElement(ranges, "range", lower=repr(float(bounds[i])),
                      upper=repr(float(bounds[i + 1])), symbol=str(i), label=label,
                      render="true")
        _fill_symbol(symbols, str(i), colour, outline=colour, outline_width=0.0)
    return _document(renderer)


def qml_categorised(*, field: str, categories: Sequence[tuple[object, str, str]],
                    style: str = "solid", outline: str | None = None) -> bytes:
    """A QGIS style (QML) colouring polygons by the value of a field.

    Parameters
    ----------
    field : str
        The field classified.
    categories : sequence of (value, colour, label)
        One class per value, ``#rrggbb`` colour and legend text.
    style : str
        QGIS fill style (``"solid"``, ``"b_diagonal"`` for hatching...).
    outline : str, optional
        Outline colour; default the class colour.

    Returns
    -------
    bytes
        The QML document (UTF-8).
    """
    renderer = ET.Element("renderer-v2", type="categorizedSymbol", attr=field,
                          symbollevels="0", forceraster="0", enableorderby="0")
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (value, colour, label) in enumerate(categories):
        ET.SubElement(cats, "category", value=str(value), symbol=str(i), label=label,
                      render="true")
        _fill_symbol(symbols, str(i), colour, style=style, outline=outline or colour,
                     outline_width=0.4)
    return _document(renderer)


def layer_styles() -> dict[str, bytes]:
    """The QML of each layer of :data:`LAYERS`, from the map legend's classes."""
    return {
        "risk_grid": qml_graduated(field="risk", breaks=RISK_BREAKS, colours=RISK_COLOURS,
                                   labels=risk_class_labels()),
        "admin_matrix": qml_categorised(
            field="level", categories=[(lv, c, lv) for lv, c in LEVEL_COLOURS.items()],
            outline="#555555"),
        "restrictions": qml_categorised(
            field="severity", style="b_diagonal",
            categories=[(s, c, f"Restriction in force, {SEVERITY_TEXT[s]} severity")
                        for s, c in SEVERITY_COLOURS.items()]),
    }


def _restrictions_layer(restrictions: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if restrictions is None or len(restrictions) == 0:
        return gpd.GeoDataFrame({c: pd.Series(dtype="int64" if c == "severity" else "str")
                                 for c in RESTRICTION_COLUMNS},
                                geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    cols = [c for c in RESTRICTION_COLUMNS if c in restrictions.columns]
    polygonal = restrictions.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    out = restrictions.loc[polygonal, [*cols, "geometry"]].to_crs("EPSG:4326")
    return out.assign(severity=pd.to_numeric(out["severity"]).astype("int64"))


def _register_styles(path: Path, styles: dict[str, bytes], stamp: str) -> None:
    """Store each style as the layer's default in the GeoPackage (QGIS's layer_styles)."""
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY "
                "AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256), "
                "f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), "
                "styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, "
                "owner TEXT(30), ui TEXT(30), update_time DATETIME)")
            con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, "
                        "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
                        (stamp,))
            for layer, qml in styles.items():
                geom = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE "
                                   "table_name = ?", (layer,)).fetchone()[0]
                con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, "
                            "f_table_name, f_geometry_column, styleName, styleQML, styleSLD, "
                            "useAsDefault, description, owner, ui, update_time) VALUES "
                            "('', '', ?, ?, ?, ?, '', 1, ?, '', '', ?)",
                            (layer, geom, layer, qml.decode("utf-8"),
                             "geo-risk map classes", stamp))
    finally:
        con.close()


def write_gis(*, out: Path, grid: gpd.GeoDataFrame, matrix: pd.DataFrame,
              admin: gpd.GeoDataFrame, restrictions: gpd.GeoDataFrame | None,
              week: pd.Timestamp) -> dict[str, Path]:
    """Write ``risk.gpkg`` and one ``.qml`` style per layer into ``out``.

    Parameters
    ----------
    out : Path
        Folder to write into.
    grid : geopandas.GeoDataFrame
        The grid as written to risk_grid.parquet (``cell`` as H3 strings).
    matrix : pandas.DataFrame
        The admin matrix (one row per ``admin_pcode``).
    admin : geopandas.GeoDataFrame
        Admin units (``admin_pcode``, geometry).
    restrictions : geopandas.GeoDataFrame or None
        Access restrictions in force in the week.
    week : pandas.Timestamp
        The forecast week; also the GeoPackage's timestamps, so the file is reproducible.

    Returns
    -------
    dict of str to Path
        ``gpkg`` and ``qml_<layer>`` paths.
    """
    path = out / GPKG_NAME
    units = admin[["admin_pcode", "geometry"]].merge(matrix, on="admin_pcode", how="inner")
    layers = {"risk_grid": grid, "admin_matrix": units,
              "restrictions": _restrictions_layer(restrictions)}
    stamp = pd.Timestamp(week).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        for name, frame in layers.items():
            pyogrio.write_dataframe(gpd.GeoDataFrame(frame).to_crs("EPSG:4326"), path,
                                    layer=name, driver="GPKG", promote_to_multi=True,
                                    geometry_type="MultiPolygon", use_arrow=True)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    styles = layer_styles()
    _register_styles(path, styles, stamp)
    paths = {"gpkg": path}
    for name, qml in styles.items():
        paths[f"qml_{name}"] = out / f"{name}.qml"
        paths[f"qml_{name}"].write_bytes(qml)
    return paths
