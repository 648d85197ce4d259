//! Streaming inference: [`Unet::submit`] starts a frame on the GPU and returns at once,
//! [`Unet::poll`] hands back the oldest frame's result when it is ready. Up to
//! [`Unet::set_in_flight`] frames (default 3) are on the GPU at a time, each in its own slot of a
//! ring planned once (upload buffer, probability and corrected-frame staging buffers), so the
//! upload of one frame, the compute of another and the readback of a third overlap, and the
//! hot path allocates no GPU memory. The activations are shared: the GPU runs the frames in
//! submission order. A camera loop:
//!
//! ```no_run
//! # fn grab() -> Option<emunet::Frame> { None }
//! # fn use_it(_: emunet::unet::Segmentation) {}
//! # fn main() -> emunet::Result<()> {
//! let ctx = std::sync::Arc::new(emunet::Context::new()?);
//! let mut unet = emunet::Unet::new(ctx, &emunet::Model::shipped()?)?;
//! while let Some(frame) = grab() {
//!     if unet.in_flight() == unet.max_in_flight() {
//!         let (_ticket, seg) = unet.poll(true)?.expect("a frame is in flight");
//!         use_it(seg);
//!     }
//!     unet.submit(&frame)?;
//! }
//! while let Some((_ticket, seg)) = unet.poll(true)? {
//!     use_it(seg);
//! }
//! # Ok(())
//! # }
//! ```

use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::gpu::copy_mapped;
use crate::unet::{Segmentation, Unet};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A map_async outcome, filled in by wgpu's callback, which signals the condition variable.
type MapResult = Arc<(
    Mutex<Option<std::result::Result<(), wgpu::BufferAsyncError>>>,
    Condvar,
)>;

/// One frame on the GPU that `poll` has not returned yet. It holds its own handles of its slot's
/// staging buffers, so a plan rebuilt meanwhile (another frame size) does not disturb it.
pub(crate) struct InFlight {
    ticket: u64,
    staging: wgpu::Buffer,
    raw_staging: Option<wgpu::Buffer>,
    readback: crate::unet::Readback,
    tiles: usize,
    engine: crate::unet::Engine,
    width: usize,
    height: usize,
    bits: u32,
    start: Instant,
    submission: wgpu::SubmissionIndex,
    /// The probability staging buffer's mapping, then the corrected frame's (with a flat-field).
    maps: Vec<MapResult>,
    /// Its share of the GPU wait limit, until it is returned or dropped.
    /// What the result needs to come back to the frame's grid (frames resampled to the model's
    /// scale).
    back: Option<crate::unet::Back>,
    _work: crate::gpu::ExpectedWork,
}

/// The ring's state: frames in flight, oldest first.
#[derive(Default)]
pub(crate) struct StreamState {
    pub(crate) pending: VecDeque<InFlight>,
    next_ticket: u64,
    pub(crate) capacity: usize,
}

impl StreamState {
    pub(crate) fn new() -> Self {
        StreamState {
            capacity: 3,
            ..Default::default()
        }
    }
}

fn map(buffer: &wgpu::Buffer) -> MapResult {
    let done: MapResult = Arc::new((Mutex::new(None), Condvar::new()));
    let slot = done.clone();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        *slot.0.lock().expect("map callback lock") = Some(r);
        slot.1.notify_all();
    });
    done
}

/// Whether every mapping has completed, waiting up to `wait` for each outcome. A wait for the
/// submission is not enough: a `queue.submit` on another thread (one not made through
/// `Context::submit`, which holds the poll lock) may have collected the callbacks
/// of that submission and not fired them yet (it runs them when its own call ends).
fn mapped(maps: &[MapResult], wait: Duration) -> Result<bool> {
    for m in maps {
        let (slot, ready) = &**m;
        let guard = slot.lock().expect("map callback lock");
        let (guard, _) = ready
            .wait_timeout_while(guard, wait, |outcome| outcome.is_none())
            .expect("map callback lock");
        match &*guard {
            None => return Ok(false),
            Some(Err(e)) => {
                return Err(Error::Gpu {
                    context: "reading a streamed frame back".into(),
                    message: e.to_string(),
                });
            }
            Some(Ok(())) => {}
        }
    }
    Ok(true)
}

impl Unet {
    /// Frames submitted and not yet returned by [`Unet::poll`].
    pub fn in_flight(&self) -> usize {
        self.stream.pending.len()
    }

    /// The most frames [`Unet::submit`] keeps on the GPU at once.
    pub fn max_in_flight(&self) -> usize {
        self.stream.capacity
    }

    /// Sets how many frames may be in flight (at least 1); refused while frames are in flight.
    pub fn set_in_flight(&mut self, frames: usize) -> Result<()> {
        if !self.stream.pending.is_empty() {
            return Err(Error::InFlight(self.stream.pending.len()));
        }
        self.stream.capacity = frames.max(1);
        Ok(())
    }

    /// Starts `frame` on the GPU and returns its ticket (0, 1, 2, … in submission order) without
    /// waiting. Refused with [`Error::InFlight`] when [`Unet::max_in_flight`] frames wait for
    /// [`Unet::poll`]. Frames of any size may follow each other (a new size plans new buffers).
    pub fn submit(&mut self, frame: &Frame) -> Result<u64> {
        let pending = self.stream.pending.len();
        if pending >= self.stream.capacity {
            return Err(Error::InFlight(pending));
        }
        let (input, back) = self.prepare(frame)?;
        let frame = input.as_ref();
        let (h, w, bits) = (frame.height, frame.width, frame.bits());
        self.ensure_plan(h, w, bits)?;
        let work = self.ctx.expect_work(self.frame_flops(h, w));
        let ticket = self.stream.next_ticket;
        let slot = (ticket % self.stream.capacity as u64) as usize;
        let ctx = self.ctx.clone();
        let plan = self.plan_mut().expect("ensure_plan builds it");
        plan.ensure_slots(&ctx, slot + 1);
        let plan = self.plan_ref().expect("ensure_plan builds it");
        let s = &plan.batch[slot];
        let start = Instant::now();
        let submission = ctx.checked("submitting a frame", || {
            ctx.queue
                .write_buffer(&s.upload, 0, bytemuck::cast_slice(&frame.packed_words()));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&s.upload, 0, &plan.raw, 0, plan.raw.size());
            plan.record_frame(&mut encoder, &s.staging, s.raw_staging.as_ref());
            ctx.submit(encoder)
        })?;
        let mut maps = vec![map(&s.staging)];
        if let Some(r) = &s.raw_staging {
            maps.push(map(r));
        }
        let (staging, raw_staging) = (s.staging.clone(), s.raw_staging.clone());
        let (tiles, engine, readback) = (plan.tiles.len(), plan.engine, plan.readback);
        self.stream.next_ticket += 1;
        self.stream.pending.push_back(InFlight {
            ticket,
            staging,
            raw_staging,
            readback,
            tiles,
            engine,
            width: w,
            height: h,
            bits,
            start,
            submission,
            maps,
            back,
            _work: work,
        });
        Ok(ticket)
    }

    /// The oldest submitted frame's ticket and result: `None` when nothing is in flight, or
    /// (`wait` false) when it is not finished yet; `wait` true blocks until it is. An error ends
    /// that frame (the next poll returns the next one).
    pub fn poll(&mut self, wait: bool) -> Result<Option<(u64, Segmentation)>> {
        let Some(front) = self.stream.pending.front() else {
            return Ok(None);
        };
        let ctx = &self.ctx;
        let waited = if wait {
            ctx.wait("a streamed frame", Some(front.submission.clone()))
        } else {
            ctx.poll_now()
                .map_err(|e| Error::Gpu {
                    context: "polling a streamed frame".into(),
                    message: e.to_string(),
                })
                .and_then(|()| ctx.healthy())
        };
        if let Err(e) = waited {
            self.stream.pending.pop_front();
            return Err(e);
        }
        // A frame that failed is dropped with its error, so the next poll moves on.
        let grace = if wait {
            crate::gpu::WAIT_SLICE
        } else {
            Duration::ZERO
        };
        match mapped(&front.maps, grace) {
            Ok(true) => {}
            Ok(false) if !wait => return Ok(None),
            Ok(false) => {
                self.stream.pending.pop_front();
                return Err(Error::Gpu {
                    context: "waiting for a streamed frame".into(),
                    message: "the frame's readback did not complete".into(),
                });
            }
            Err(e) => {
                self.stream.pending.pop_front();
                return Err(e);
            }
        }
        let f = self.stream.pending.pop_front().expect("front exists");
        let bytes: Vec<u8> = copy_mapped(&f.staging, f.staging.size())?;
        let (prob, mask_bytes) = f.readback.decode(&bytes, self.threshold);
        let corrected = match &f.raw_staging {
            Some(r) => {
                let words: Vec<u32> = copy_mapped(r, r.size())?;
                Some(Frame::from_packed_words(f.width, f.height, f.bits, &words)?)
            }
            None => None,
        };
        let seg = Segmentation {
            width: f.width,
            height: f.height,
            prob,
            mask_bytes,
            threshold: self.threshold,
            elapsed: f.start.elapsed(),
            tiles: f.tiles,
            engine: f.engine,
            corrected,
            clusters: None,
            dark_edges: Default::default(),
        };
        Ok(Some((
            f.ticket,
            match f.back {
                Some(back) => self.restore(seg, back, None),
                None => seg,
            },
        )))
    }
}
