//! What every kernel shares: the [`Kernel`] trait a wrapper implements (its name, source,
//! bindings, entry points and grid for one configuration), the [`Compiled`] form the trait gives
//! it (pipelines, bind-group layout, binding by slice, `record`), and the [`PipelineCache`] that
//! builds each (kernel, configuration) once, on first use.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// How a shader binding is accessed; a wrapper lists its bindings with these, and the layouts
/// test checks each against the shader's declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
    /// `var<uniform>`.
    Uniform,
    /// A `texture_2d_array<f32>` read with textureLoad (the fused engine's activations).
    Texture,
    /// A write-only `texture_storage_2d_array` of this format.
    StorageTexture(wgpu::TextureFormat),
}

/// One compute shader and direction: what varies between its compiled forms (`Config`), the
/// parameters its grid is computed from, and the four facts that build and dispatch it. The
/// pipeline, layout, binding and recording come from [`Compiled`]; `docs/adding-a-kernel.md`
/// walks through one.
pub trait Kernel: 'static {
    /// What selects one compiled form (variant, storage, weights, precision, epilogue); `()` for
    /// a kernel with one form.
    type Config: Copy + Eq + Hash + Debug + Send + Sync + 'static;
    /// The uniform parameters the grid is computed from (the `#[repr(C)]` mirror of the
    /// shader's struct).
    type Params: bytemuck::Pod;
    /// The kernel's name: the shader file's stem (labels, cache key, test names).
    const NAME: &'static str;
    /// The entry points, dispatched in this order by [`Compiled::record`].
    const ENTRIES: &'static [&'static str] = &["main"];

    /// The WGSL module for `config`.
    fn source(config: Self::Config) -> String;
    /// The (binding number, access) pairs the module declares for `config`, in the order
    /// [`Compiled::bind`] takes resources.
    fn bindings(config: Self::Config) -> Vec<(u32, Access)>;
    /// Workgroups per axis of each entry point's dispatch, in [`Self::ENTRIES`] order.
    fn grid(config: Self::Config, p: &Self::Params) -> Vec<[u32; 3]>;
    /// Every configuration the engine can build (the naga, HLSL/MSL and layout tests check each).
    fn configs() -> Vec<Self::Config>;
}

/// A resource that can fill a binding: a whole buffer, a range of one, or a texture view.
pub trait Resource {
    /// The binding resource.
    fn resource(&self) -> wgpu::BindingResource<'_>;
}

impl Resource for wgpu::Buffer {
    fn resource(&self) -> wgpu::BindingResource<'_> {
        self.as_entire_binding()
    }
}

impl Resource for wgpu::BufferBinding<'_> {
    fn resource(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(self.clone())
    }
}

impl Resource for wgpu::TextureView {
    fn resource(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::TextureView(self)
    }
}

/// A kernel compiled for one configuration: a pipeline per entry point and the bind-group layout.
pub struct Compiled<K: Kernel> {
    /// The configuration it was built for.
    pub config: K::Config,
    /// The bind-group layout of [`Kernel::bindings`].
    pub layout: wgpu::BindGroupLayout,
    /// One pipeline per entry point, in [`Kernel::ENTRIES`] order.
    pub pipelines: Vec<wgpu::ComputePipeline>,
    bindings: Vec<(u32, Access)>,
    kernel: PhantomData<fn() -> K>,
}

impl<K: Kernel> Compiled<K> {
    /// Builds the module, layout and pipelines of `config` on `device`.
    pub fn new(device: &wgpu::Device, config: K::Config) -> Self {
        let label = format!("{} {config:?}", K::NAME);
        let bindings = K::bindings(config);
        let layout = layout(device, &label, &bindings);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(K::source(config).into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipelines = K::ENTRIES
            .iter()
            .map(|entry| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&format!("{label}.{entry}")),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .collect();
        Compiled {
            config,
            layout,
            pipelines,
            bindings,
            kernel: PhantomData,
        }
    }

    /// A bind group of `resources`, one per binding in [`Kernel::bindings`] order.
    ///
    /// # Panics
    /// If the count differs from the kernel's bindings (a programming error, like a wrong
    /// resource type, which wgpu's validation reports).
    pub fn bind(
        &self,
        device: &wgpu::Device,
        label: &str,
        resources: &[&dyn Resource],
    ) -> wgpu::BindGroup {
        assert_eq!(
            resources.len(),
            self.bindings.len(),
            "{} {:?}: {} resources for {} bindings",
            K::NAME,
            self.config,
            resources.len(),
            self.bindings.len()
        );
        let entries: Vec<wgpu::BindGroupEntry> = self
            .bindings
            .iter()
            .zip(resources)
            .map(|(&(binding, _), r)| wgpu::BindGroupEntry {
                binding,
                resource: r.resource(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// A bind group from (binding number, resource) pairs in any order, for the storage files
    /// that leave numbers unused (see `shaders/conv3x3_*.wgsl`).
    ///
    /// # Panics
    /// If the numbers are not exactly the kernel's bindings.
    pub fn bind_numbered(
        &self,
        device: &wgpu::Device,
        label: &str,
        entries: &[(u32, wgpu::BindingResource)],
    ) -> wgpu::BindGroup {
        let mut given: Vec<u32> = entries.iter().map(|e| e.0).collect();
        let mut declared: Vec<u32> = self.bindings.iter().map(|b| b.0).collect();
        given.sort_unstable();
        declared.sort_unstable();
        assert_eq!(
            given,
            declared,
            "{} {:?}: binding numbers",
            K::NAME,
            self.config
        );
        let entries: Vec<wgpu::BindGroupEntry> = entries
            .iter()
            .map(|(binding, resource)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: resource.clone(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// Workgroups per axis of each entry point's dispatch for `p`.
    pub fn grid(&self, p: &K::Params) -> Vec<[u32; 3]> {
        K::grid(self.config, p)
    }

    /// Records the kernel's dispatches for `p` into `pass`, with `group` bound.
    pub fn record(&self, pass: &mut wgpu::ComputePass, group: &wgpu::BindGroup, p: &K::Params) {
        record_steps(pass, group, self.pipelines.iter().zip(self.grid(p)));
    }

    /// The kernel's dispatches for `p` with `group`, to record later (plans keep these).
    pub fn dispatch(&self, group: wgpu::BindGroup, p: &K::Params) -> Dispatch {
        let grids = self.grid(p);
        debug_assert_eq!(grids.len(), self.pipelines.len());
        Dispatch {
            steps: self.pipelines.iter().cloned().zip(grids).collect(),
            group,
        }
    }
}

/// A kernel's dispatches ready to record: its pipelines with their grids and its bind group.
#[derive(Clone, Debug)]
pub struct Dispatch {
    steps: Vec<(wgpu::ComputePipeline, [u32; 3])>,
    group: wgpu::BindGroup,
}

impl Dispatch {
    /// Records every dispatch into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass) {
        record_steps(pass, &self.group, self.steps.iter().map(|(p, g)| (p, *g)));
    }

    /// Workgroups of the last entry point's dispatch (the profile shares a step's FLOPs by it).
    pub fn last_grid(&self) -> [u32; 3] {
        self.steps.last().map_or([0; 3], |s| s.1)
    }
}

/// Binds `group`, then dispatches each pipeline over its grid, in order.
fn record_steps<'a>(
    pass: &mut wgpu::ComputePass,
    group: &wgpu::BindGroup,
    steps: impl Iterator<Item = (&'a wgpu::ComputePipeline, [u32; 3])>,
) {
    pass.set_bind_group(0, group, &[]);
    for (pipeline, [x, y, z]) in steps {
        pass.set_pipeline(pipeline);
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Compiled kernels by (kernel, configuration), each built on first use and shared after.
pub struct PipelineCache {
    device: wgpu::Device,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    /// By kernel type: a `HashMap<K::Config, Arc<Compiled<K>>>`.
    forms: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// What was built, in order: "name config".
    built: Vec<String>,
}

impl PipelineCache {
    /// An empty cache for `device`.
    pub fn new(device: wgpu::Device) -> Self {
        PipelineCache {
            device,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// `K` compiled for `config`, built now if this is the first request.
    pub fn get<K: Kernel>(&self, config: K::Config) -> Arc<Compiled<K>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let CacheInner { forms, built } = &mut *inner;
        let forms = forms
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(HashMap::<K::Config, Arc<Compiled<K>>>::new()))
            .downcast_mut::<HashMap<K::Config, Arc<Compiled<K>>>>()
            .expect("a kernel's entry holds that kernel's map");
        forms
            .entry(config)
            .or_insert_with(|| {
                built.push(format!("{} {config:?}", K::NAME));
                Arc::new(Compiled::new(&self.device, config))
            })
            .clone()
    }

    /// Every (kernel, configuration) built so far, in the order they were first asked for.
    pub fn built(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.built.clone()
    }
}

/// An explicit bind-group layout for the given (binding, access) pairs (storage files of the fused
/// engine leave some binding numbers unused).
pub(crate) fn layout(
    device: &wgpu::Device,
    label: &str,
    access: &[(u32, Access)],
) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = access
        .iter()
        .map(|&(binding, a)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: match a {
                Access::Uniform => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                Access::Read | Access::ReadWrite => wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: matches!(a, Access::Read),
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                Access::Texture => wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2Array,
                    multisampled: false,
                },
                Access::StorageTexture(format) => wgpu::BindingType::StorageTexture {
                    access: wgpu::StorageTextureAccess::WriteOnly,
                    format,
                    view_dimension: wgpu::TextureViewDimension::D2Array,
                },
            },
            count: None,
        })
        .collect();
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    })
}

/// Numbers bindings 0..n in order: most kernels declare theirs so.
pub(crate) fn numbered(access: &[Access]) -> Vec<(u32, Access)> {
    access
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u32, *a))
        .collect()
}
