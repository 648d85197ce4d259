//! Frames whose pixel size differs from the model's ([`Unet::set_pixel_um`]): each frame is
//! resampled to the model's scale on the way in (`crate::scale`), and its probabilities back to
//! the frame's own pixels on the way out, so that a [`Segmentation`] is always on the frame's
//! grid. A flat-field is then applied on the host, before resampling (the GPU's works on frames
//! of its own size only).

use super::*;
use crate::scale::Rescale;

/// What a frame's result needs to come back to the frame's grid.
pub(crate) struct Back {
    rescale: Rescale,
    /// The flat-fielded frame at its own size, when a flat-field is set.
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

    /// The frame the network runs on, and what its result needs to come back: `frame` itself
    /// (borrowed) unless frames are resampled.
    pub(crate) fn prepare<'a>(
        &self,
        frame: &'a Frame,
    ) -> Result<(std::borrow::Cow<'a, Frame>, Option<Back>)> {
        let Some(um) = self.pixel_um.filter(|_| self.rescaling()) else {
            return Ok((std::borrow::Cow::Borrowed(frame), None));
        };
        let rescale = Rescale::new(frame.width, frame.height, um, self.model_pixel_um)?
            .expect("rescaling() said the sizes differ");
        let corrected = match &self.flat_host {
            Some(f) => Some(f.apply(frame)?),
            None => None,
        };
        let model = rescale.frame_to_model(corrected.as_ref().unwrap_or(frame))?;
        Ok((
            std::borrow::Cow::Owned(model),
            Some(Back { rescale, corrected }),
        ))
    }

    /// `seg` (on the model's grid) brought back to the frame's: probabilities interpolated, the
    /// mask decided on them, rounded to the probability format; with `clusters_of` (the frame as
    /// given, where [`Unet::segment`] measures GPU clusters), the clusters the GPU would measure,
    /// measured on the host.
    pub(crate) fn restore(
        &self,
        seg: Segmentation,
        back: Back,
        clusters_of: Option<&Frame>,
    ) -> Segmentation {
        let (w, h) = back.rescale.frame;
        let prob = back.rescale.prob_to_frame(&seg.prob);
        let mask = threshold_mask(&prob, seg.threshold);
        let prob = match self.prob_format {
            ProbFormat::F32 => prob,
            format => prob.into_iter().map(|p| format.quantize(p)).collect(),
        };
        let mut out = Segmentation {
            width: w,
            height: h,
            prob,
            mask_bytes: Some(mask),
            corrected: back.corrected,
            clusters: None,
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
