//! The one error type of the library: every failure on user input is a value, never a panic.

use std::path::PathBuf;

/// Everything that can go wrong in emunet, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable GPU adapter (or none matching `EMUNET_ADAPTER`).
    #[error(
        "no GPU adapter found{0}. Install a GPU driver with Vulkan support, or Mesa's software \
         Vulkan driver (Debian/Ubuntu: `apt-get install -y mesa-vulkan-drivers`)"
    )]
    NoAdapter(String),
    /// The adapter refused to create a device.
    #[error("could not open the GPU device: {0}")]
    Device(String),
    /// The device is gone: lost (driver reset, unplugged, destroyed), hung past the GPU
    /// timeout, or hit by an error outside any checked call. Open a new context to go on.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A GPU error: validation or out-of-memory reported by wgpu, or a poll, mapping or
    /// readback that failed or never completed.
    #[error("GPU error in {context}: {message}")]
    Gpu {
        /// What was being done (e.g. "readback", "waiting for a streamed frame").
        context: String,
        /// wgpu's error, or what did not complete.
        message: String,
    },
    /// The weights file is unusable; the message names the tensor or key at fault.
    #[error("weights file {path}: {message}")]
    Weights {
        /// The weights file (or the built-in one's name).
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A model description (depth, channels, threshold) is not valid.
    #[error("invalid model: {0}")]
    Model(String),
    /// A frame could not be read, is not usable, or could not be written.
    #[error("frame {path}: {message}")]
    Frame {
        /// The frame's file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Shapes that do not fit together (frame too small, wrong buffer length, …).
    #[error("shape error: {0}")]
    Shape(String),
    /// The engine's ring of streamed frames is full, or a call needs it empty: poll first.
    #[error("{0} streamed frame(s) in flight: poll them first")]
    InFlight(usize),
    /// A cluster table (Parquet, ROOT) could not be made.
    #[error("cluster table {path}: {message}")]
    Table {
        /// The table file being written.
        path: PathBuf,
        /// The writer's error message.
        message: String,
    },
    /// File-system errors, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True for faults of the device itself (not of one frame): a run should stop on them.
    pub fn is_device_fault(&self) -> bool {
        matches!(self, Error::DeviceLost(_))
    }

    /// True when a file could not be written for want of space (or quota): every later write
    /// to that disk would fail too.
    pub fn is_disk_full(&self) -> bool {
        use std::io::ErrorKind::{QuotaExceeded, StorageFull};
        matches!(self, Error::Io { source, .. }
            if matches!(source.kind(), StorageFull | QuotaExceeded))
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
