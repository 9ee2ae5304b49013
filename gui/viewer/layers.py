"""Which masks the overlay draws, with which colours: the two mask layer items kept in step with the
document, the overlay settings and the class table.

Layers (gui.state.LAYERS): truth (the editable mask), prediction, both (truth below; prediction as a
light outline above), difference (missed / extra / wrong class, see core.difference_colours),
uncertainty (the prediction's uncertainty map, drawn as it arrives: uint8, coloured by a table), none. Outline-only draws class boundaries instead of filled classes. Derived pixels (outlines, the
difference, 8-bit copies of 16-bit masks) are computed band by band with a zero-delay timer (at most
BAND_BUDGET_S per turn of the event loop), and recomputed only where the mask is edited. Wherever the
truth is drawn, its unlabeled pixels are hatched (unlabeled_hatch.py) above the layers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QGraphicsScene

from core.classes import ClassTable
from core.io.masks import ignore_index_for
from gui.canvas import MASK_Z
from gui.overlay_colours import (
    OUTLINE_TINT,
    class_colour_table,
    difference_colour_table,
    outline_opacity,
    uncertainty_colour_table,
)
from gui.pixel_items import MaskLayerItem
from gui.state import ImageDocument, OverlaySettings
from gui.viewer.mask_views import (
    DerivedMask,
    Region,
    clip_region,
    difference_view,
    indices_view,
    outline_view,
)
from gui.viewer.unlabeled_hatch import STENCIL_VALUE, UnlabeledHatchItem, unlabeled_stencil

BAND_BUDGET_S = 0.02


@dataclass(frozen=True)
class LayerPlan:
    """What one mask layer item shows: source ('truth', 'prediction', 'difference' or 'uncertainty'), drawn as
    'fill' or 'outline'; tinted draws the class colours lighter (the prediction over the truth)."""

    source: str
    style: str = "fill"
    tinted: bool = False


def plan_layers(settings: OverlaySettings, has_truth: bool, has_prediction: bool,
                has_uncertainty: bool = False) -> tuple[LayerPlan, ...]:
    """The layers to draw, bottom first, for these settings and the masks the image has."""
    style = "outline" if settings.outline else "fill"
    layer = settings.layer
    if layer == "truth":
        return (LayerPlan("truth", style),)
    if layer == "prediction":
        return (LayerPlan("prediction", style),) if has_prediction else ()
    if layer == "both":
        truth = (LayerPlan("truth", style),) if has_truth else ()
        return truth + ((LayerPlan("prediction", "outline", tinted=has_truth),) if has_prediction else ())
    if layer == "difference":
        return (LayerPlan("difference"),) if has_truth and has_prediction else ()
    if layer == "uncertainty":
        return (LayerPlan("uncertainty"),) if has_uncertainty else ()
    return ()


class OverlayLayers(QObject):
    """Owns the mask layer items in the scene. Opacity, colour and visibility changes only set colour
    tables and item opacity; a new layer choice or outline mode rebinds arrays; an edit refreshes a region."""

    def __init__(self, scene: QGraphicsScene, parent: QObject | None = None):
        super().__init__(parent)
        self.items = (MaskLayerItem(), MaskLayerItem())
        for z, item in enumerate(self.items):
            item.setZValue(MASK_Z + z)
            scene.addItem(item)
        self.hatch = UnlabeledHatchItem()
        self.hatch.setZValue(MASK_Z + len(self.items))
        scene.addItem(self.hatch)
        self._hatch_view: DerivedMask | None = None  # the stencil of a mask that is not 8-bit
        self.document: ImageDocument | None = None
        self.settings = OverlaySettings()
        self.classes = ClassTable.default(2)
        self.plans: tuple[LayerPlan, ...] = ()
        self._views: dict[LayerPlan, DerivedMask] = {}
        self._truth: np.ndarray | None = None  # the arrays the views were made from
        self._prediction: np.ndarray | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._compute_bands)

    @property
    def complete(self) -> bool:
        """True when every derived view on screen is fully computed."""
        return all(view.complete for view, _ in self._band_work())

    # inputs -------------------------------------------------------------------------------------
    def set_document(self, document: ImageDocument | None, settings: OverlaySettings, classes: ClassTable) -> None:
        self.document, self.settings, self.classes = document, settings, classes
        self._rebind()

    def set_settings(self, settings: OverlaySettings, classes: ClassTable) -> None:
        self.settings, self.classes = settings, classes
        if self._current_plans() != self.plans:
            self._rebind()
        else:
            self._apply_looks()

    def mask_edited(self, region: Region | None) -> None:
        """The truth mask changed in `region` (None: everywhere, or it was replaced)."""
        if self.document is None:
            return
        if self.document.mask is not self._truth or self._current_plans() != self.plans:
            self._rebind()
            return
        for plan, item in zip(self.plans, self.items, strict=False):
            if plan.source == "prediction":
                continue
            view = self._views.get(plan)
            repaint = view.refresh(region) if view is not None else clip_region(region, self._truth.shape)
            item.refresh(repaint)
        if self.hatch.array is not None:
            view = self._hatch_view
            self.hatch.refresh(view.refresh(region) if view is not None else clip_region(region, self._truth.shape))
        if not self.complete:
            self._timer.start()

    def prediction_changed(self) -> None:
        self._rebind()

    # binding ------------------------------------------------------------------------------------
    def _masks(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        document = self.document
        if document is None:
            return None, None
        prediction = document.prediction
        if prediction is not None and prediction.shape != document.mask.shape:
            prediction = None  # a prediction of another size cannot be overlaid
        return document.mask, prediction

    def _current_plans(self) -> tuple[LayerPlan, ...]:
        truth, prediction = self._masks()
        if truth is None:
            return ()
        uncertainty = self.document.uncertainty
        return plan_layers(self.settings, bool(self.document.has_mask), prediction is not None,
                           uncertainty is not None and uncertainty.shape == truth.shape)

    def _rebind(self) -> None:
        self._truth, self._prediction = self._masks()
        self.plans = self._current_plans()
        self._views = {}
        for index, item in enumerate(self.items):
            item.set_array(self._array_for(self.plans[index]) if index < len(self.plans) else None)
        self._bind_hatch()
        self._apply_looks()
        self._compute_bands()
        if not self.complete:
            self._timer.start()

    def _array_for(self, plan: LayerPlan) -> np.ndarray:
        if plan.source == "uncertainty":
            return self.document.uncertainty  # uint8, made off the GUI thread
        if plan.source == "difference":
            view = difference_view(self._truth, self._prediction)
        else:
            mask = self._truth if plan.source == "truth" else self._prediction
            if plan.style == "outline":
                view = outline_view(mask)
            elif mask.dtype == np.uint8 and mask.flags.c_contiguous:
                return mask  # drawn straight from the mask's memory
            else:
                view = indices_view(mask)
        self._views[plan] = view
        return view.array

    def _bind_hatch(self) -> None:
        """Hatch the truth's unlabeled pixels when the truth is drawn: from its own memory when it is 8-bit."""
        self._hatch_view = None
        truth = self._truth
        if truth is None or not any(plan.source == "truth" for plan in self.plans):
            self.hatch.set_array(None)
            return
        unlabeled = ignore_index_for(len(self.classes))
        if truth.dtype == np.uint8 and truth.flags.c_contiguous and unlabeled == STENCIL_VALUE:
            self.hatch.set_array(truth)
            return
        self._hatch_view = unlabeled_stencil(truth, unlabeled)
        self.hatch.set_array(self._hatch_view.array)

    def _band_work(self) -> list[tuple[DerivedMask, MaskLayerItem]]:
        """The derived views still drawn and the items that show them."""
        work = [(self._views[plan], item) for plan, item in zip(self.plans, self.items, strict=False)
                if plan in self._views]
        return work + ([(self._hatch_view, self.hatch)] if self._hatch_view is not None else [])

    def _apply_looks(self) -> None:
        classes, settings = self.classes, self.settings
        for index, item in enumerate(self.items):
            if index >= len(self.plans):
                item.setVisible(False)
                continue
            plan = self.plans[index]
            if plan.source == "difference":
                table = difference_colour_table()
            elif plan.source == "uncertainty":
                table = uncertainty_colour_table()
            else:
                table = class_colour_table(classes, settings.hidden, OUTLINE_TINT if plan.tinted else 0.0)
            item.set_colours(table)
            item.setOpacity(outline_opacity(settings.opacity) if plan.style == "outline" else settings.opacity)
            item.setVisible(True)
        self.hatch.setOpacity(outline_opacity(settings.opacity))

    def _compute_bands(self) -> None:
        """Compute derived bands for about BAND_BUDGET_S, repainting each band as it is done."""
        deadline = time.perf_counter() + BAND_BUDGET_S
        for view, item in self._band_work():
            while time.perf_counter() < deadline:
                region = view.compute_band()
                if region is None:
                    break
                item.refresh(region)
        if self.complete:
            self._timer.stop()
