//! What happens to a frame before the network and to its result after, on the host:
//! - frames whose pixel size differs from the model's ([`Unet::set_pixel_um`]) are resampled to
//!   the model's scale on the way in (`crate::scale`) and their probabilities back to the frame's
//!   own pixels on the way out, so that a [`Segmentation`] is always on the frame's grid (a
//!   flat-field is then applied here, before resampling: the GPU's works on frames of its own
//!   size only);
//! - dark lines along the edges (`crate::edges`: a dead row, a crop edge) are replaced by the
//!   nearest good line on the way in and cleared from the probabilities and mask on the way out;
//! - a border cut ([`Unet::set_border`]) clears the outermost lines of the result.
//!
//! A frame with none of these goes to the GPU as it is, untouched and uncopied.

use super::*;
use crate::edges::DarkEdges;
use crate::scale::Rescale;

/// What a frame's result needs after the network.
pub(crate) struct Back {
    /// The frame's own size.
    size: (usize, usize),
    /// The grids, when the frame was resampled.
    rescale: Option<Rescale>,
    /// The dark edge lines found.
    dark: DarkEdges,
    /// The edge lines to clear: the dark ones and the border cut.
    cleared: DarkEdges,
    /// The flat-fielded frame at its own size, when it was resampled with a flat-field set.
    corrected: Option<Frame>,
}

impl Unet {
    /// The pixel size (µm) of the frames to come; `None` (the default) takes frames as the
    /// model's own scale. When it differs from the model's ([`Model::pixel_um`]) by more than
    /// [`crate::scale::TOLERANCE`], every frame is resampled to the model's scale before the
    /// network and its probabilities back to the frame's pixels after it: masks, probabilities
    /// and clusters are the frame's own. Refused for a size that is not a positive number, or
    /// while frames are in flight.
    pub fn set_pixel_um(&mut self, um: Option<f64>) -> Result<()> {
        if let Some(v) = um {
            Rescale::new(1, 1, v, self.model_pixel_um)?;
        }
        if !self.stream.pending.is_empty() {
            return Err(Error::InFlight(self.stream.pending.len()));
        }
        self.pixel_um = um;
        self.upload_flat();
        Ok(())
    }

    /// Clears the mask and probabilities within `lines` pixels of every edge, as the station
    /// pipeline's border cut (`classic --border`); 0 (the default) keeps the whole frame.
    pub fn set_border(&mut self, lines: usize) {
        self.border = lines;
    }

    /// The border cut set by [`Unet::set_border`].
    pub fn border(&self) -> usize {
        self.border
    }

    /// The frames' pixel size set by [`Unet::set_pixel_um`].
    pub fn pixel_um(&self) -> Option<f64> {
        self.pixel_um
    }

    /// The pixel size (µm) the model was trained at.
    pub fn model_pixel_um(&self) -> f64 {
        self.model_pixel_um
    }

    /// Whether frames are resampled (their pixel size differs from the model's).
    pub fn rescaling(&self) -> bool {
        self.pixel_um
            .is_some_and(|um| (um / self.model_pixel_um - 1.0).abs() > crate::scale::TOLERANCE)
    }

    /// The GPU flat-field: the host one uploaded, unless frames are resampled (then the host
    /// applies it before resampling).
    pub(super) fn upload_flat(&mut self) {
        self.flat = match (&self.flat_host, self.rescaling()) {
            (Some(f), false) => Some(crate::flatfield::GpuFlatField::upload(&self.ctx, f)),
            _ => None,
        };
        self.plan = None;
    }

    /// The frame the network runs on, and what its result needs after it: `frame` itself
    /// (borrowed, no `Back`) unless it is resampled or has dark edge lines.
    pub(crate) fn prepare<'a>(
        &self,
        frame: &'a Frame,
    ) -> Result<(std::borrow::Cow<'a, Frame>, Option<Back>)> {
        let dark = crate::edges::dark_edges(frame);
        let rescale = match self.pixel_um.filter(|_| self.rescaling()) {
            Some(um) => Rescale::new(frame.width, frame.height, um, self.model_pixel_um)?,
            None => None,
        };
        let cleared = dark.at_least(self.border);
        if rescale.is_none() && dark.is_empty() {
            let back = (self.border > 0).then_some(Back {
                size: (frame.width, frame.height),
                rescale: None,
                dark,
                cleared,
                corrected: None,
            });
            return Ok((std::borrow::Cow::Borrowed(frame), back));
        }
        // Resampled frames are flat-fielded here; the others on the GPU, as always.
        let corrected = match (&self.flat_host, &rescale) {
            (Some(f), Some(_)) => Some(f.apply(frame)?),
            _ => None,
        };
        let base = corrected.as_ref().unwrap_or(frame);
        let repaired = (!dark.is_empty()).then(|| dark.repair(base));
        let source = repaired.as_ref().unwrap_or(base);
        let input = match &rescale {
            Some(r) => r.frame_to_model(source)?,
            None => source.clone(),
        };
        let back = Back {
            size: (frame.width, frame.height),
            rescale,
            dark,
            cleared,
            corrected,
        };
        Ok((std::borrow::Cow::Owned(input), Some(back)))
    }

    /// `seg` (of the frame `prepare` gave) brought back to the frame: probabilities interpolated
    /// to its grid (the mask decided on them, then rounded to the probability format) when it was
    /// resampled, dark edge lines cleared; with `clusters_of` (the frame as given, where
    /// [`Unet::segment`] measures GPU clusters), the clusters the GPU would measure, measured on
    /// the host.
    pub(crate) fn restore(
        &self,
        mut seg: Segmentation,
        back: Back,
        clusters_of: Option<&Frame>,
    ) -> Segmentation {
        let (w, h) = back.size;
        let (mut prob, mut mask) = match &back.rescale {
            Some(r) => {
                let prob = r.prob_to_frame(&seg.prob);
                let mask = threshold_mask(&prob, seg.threshold);
                let prob = match self.prob_format {
                    ProbFormat::F32 => prob,
                    format => prob.into_iter().map(|p| format.quantize(p)).collect(),
                };
                (prob, mask)
            }
            None => {
                let mask = seg.mask();
                (std::mem::take(&mut seg.prob), mask)
            }
        };
        back.cleared.clear(&mut prob, &mut mask, w, h);
        let corrected = match back.rescale {
            Some(_) => back.corrected,
            None => seg.corrected.clone(),
        };
        let mut out = Segmentation {
            width: w,
            height: h,
            prob,
            mask_bytes: Some(mask),
            corrected,
            clusters: None,
            dark_edges: back.dark,
            ..seg
        };
        if let Some(frame) = clusters_of {
            // As the GPU measures them (`clusters_gpu`): 8-connected, weighted by max(0, median − p).
            let measured = out.corrected.as_ref().unwrap_or(frame);
            let median = crate::reference::frame_median(measured) as f32;
            let weight: Vec<f32> = (0..measured.len())
                .map(|i| (median - measured.value(i) as f32).max(0.0))
                .collect();
            out.clusters = Some(crate::clusters::find_clusters(
                out.mask_bytes.as_deref().expect("set above"),
                w,
                h,
                crate::clusters::Connectivity::Eight,
                Some(&weight),
                (0.0, 0.0),
            ));
        }
        out
    }
}
