//! Every shader module against its Rust side, read from the WGSL through naga: each uniform
//! struct against its mirror (`#[repr(C)]` parameter structs in `kernels`: the same size, each
//! named field at the same offset), and each binding against the access its wrapper declares
//! (`Kernel::bindings`: storage read or read-write, uniform, texture, storage texture format).
//! A struct or binding that one side changes and the other does not fails here, not on a GPU.

use emunet::kernels::{Access, Module};
use emunet::kernels::{
    AdamParams, AreaCutParams, Conv3x3Params, FirFilterParams, FirTaps, FlatFieldParams,
    FrameParams, FrameStatsParams, GradWeightParams, Head1x1Params, HeadGradParams, HeadParams,
    LabelParams, LossParams, Maxpool2x2GradParams, Maxpool2x2Params, MomentsParams,
    NormalizeParams, ThresholdParams, UpGradWeightParams, Upconv2x2Params,
};
use std::collections::BTreeMap;

/// A Rust mirror: its size and its named fields' offsets (padding fields, `_…`, left out).
struct Mirror {
    size: usize,
    fields: Vec<(&'static str, usize)>,
}

macro_rules! mirror {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        (
            stringify!($ty),
            Mirror {
                size: std::mem::size_of::<$ty>(),
                fields: vec![$((stringify!($field), std::mem::offset_of!($ty, $field))),*],
            },
        )
    };
}

fn mirrors() -> BTreeMap<&'static str, Mirror> {
    [
        mirror!(AdamParams {
            count,
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            c1,
            c2
        }),
        mirror!(AreaCutParams {
            w,
            h,
            min_area,
            max_area
        }),
        mirror!(Conv3x3Params {
            n,
            h,
            w,
            ca4,
            cb4,
            co4,
            relu,
            ob_first
        }),
        mirror!(FirFilterParams {
            w,
            h,
            bits,
            k,
            offset,
            equalise,
            scale
        }),
        mirror!(FirTaps { rows }),
        mirror!(FlatFieldParams {
            count,
            width,
            bits,
            words
        }),
        mirror!(FrameParams {
            h,
            w,
            bits,
            mode,
            stats
        }),
        mirror!(FrameStatsParams { count, bits, words }),
        mirror!(GradWeightParams {
            n,
            h,
            w,
            ca4,
            cb4,
            co4,
            relu,
            rows
        }),
        mirror!(Head1x1Params {
            th,
            tw,
            c4,
            logits,
            cy0,
            cy1,
            cx0,
            cx1,
            oy,
            ox,
            out_h,
            out_w
        }),
        mirror!(HeadGradParams { count, c4, chunk }),
        mirror!(HeadParams {
            weight,
            bias,
            out_h,
            out_w,
            threshold
        }),
        mirror!(LabelParams {
            w,
            h,
            eight,
            nblocks
        }),
        mirror!(LossParams {
            count,
            chunk,
            pos_weight,
            jaccard_weight
        }),
        mirror!(Maxpool2x2GradParams {
            n,
            h,
            w,
            c4,
            accumulate
        }),
        mirror!(Maxpool2x2Params { n, h, w, c4 }),
        mirror!(MomentsParams {
            w,
            h,
            capacity,
            nblocks,
            source,
            bits,
            offset_index,
            above
        }),
        mirror!(NormalizeParams {
            h,
            w,
            bits,
            mode,
            oy,
            ox,
            th,
            tw
        }),
        mirror!(ThresholdParams {
            w,
            h,
            border,
            t,
            inclusive
        }),
        mirror!(UpGradWeightParams {
            n,
            h,
            w,
            ci4,
            co4,
            rows
        }),
        mirror!(Upconv2x2Params { n, h, w, ci4, co4 }),
    ]
    .into_iter()
    .collect()
}

/// The mismatches between `module`'s uniform structs and `mirrors` (empty when they agree).
fn mismatches(what: &str, module: &naga::Module, mirrors: &BTreeMap<&str, Mirror>) -> Vec<String> {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).expect("layouts");
    let mut out = Vec::new();
    for (_, var) in module.global_variables.iter() {
        if var.space != naga::AddressSpace::Uniform {
            continue;
        }
        let ty = &module.types[var.ty];
        let naga::TypeInner::Struct { members, .. } = &ty.inner else {
            continue; // a plain array of weights: no mirror
        };
        let name = ty.name.as_deref().unwrap_or("?");
        let Some(mirror) = mirrors.get(name) else {
            out.push(format!(
                "{what}: uniform struct {name} has no Rust mirror in this test"
            ));
            continue;
        };
        let size = layouter[var.ty].size as usize;
        if size != mirror.size {
            out.push(format!(
                "{what}: {name} is {size} bytes in WGSL, {} in Rust",
                mirror.size
            ));
        }
        let wgsl: BTreeMap<&str, usize> = members
            .iter()
            .filter_map(|m| Some((m.name.as_deref()?, m.offset as usize)))
            .filter(|(n, _)| !n.starts_with('_'))
            .collect();
        let rust: BTreeMap<&str, usize> = mirror.fields.iter().copied().collect();
        if wgsl != rust {
            out.push(format!(
                "{what}: {name} fields (name, offset): WGSL {wgsl:?}, Rust {rust:?}"
            ));
        }
    }
    out
}

#[test]
fn every_uniform_struct_matches_its_rust_mirror() {
    let mirrors = mirrors();
    let mut bad = Vec::new();
    let mut checked = 0;
    for m in emunet::kernels::modules() {
        bad.extend(mismatches(&m.name, &parse(&m), &mirrors));
        checked += 1;
    }
    assert!(checked > 40, "only {checked} modules");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The check itself catches a moved field, a changed size and a struct without a mirror.
#[test]
fn a_struct_out_of_step_is_caught() {
    let module = |src: &str| naga::front::wgsl::parse_str(src).unwrap();
    let body = "@compute @workgroup_size(1) fn main() { _ = p.w; }";
    let ok = format!(
        "struct ThresholdParams {{ w: u32, h: u32, border: u32, t: f32, inclusive: u32, \
         _pad0: u32, _pad1: u32, _pad2: u32 }}\n@group(0) @binding(2) var<uniform> p: ThresholdParams;\n{body}"
    );
    assert_eq!(
        mismatches("ok", &module(&ok), &mirrors()),
        Vec::<String>::new()
    );
    let swapped = ok.replace("w: u32, h: u32", "h: u32, w: u32");
    assert_eq!(
        mismatches("swapped", &module(&swapped), &mirrors()).len(),
        1
    );
    let short = ok.replace(" _pad2: u32 ", " ");
    assert_eq!(mismatches("short", &module(&short), &mirrors()).len(), 1);
    let unknown = ok.replace("ThresholdParams", "NewParams");
    let found = mismatches("unknown", &module(&unknown), &mirrors());
    assert!(found[0].contains("no Rust mirror"), "{found:?}");
}

fn parse(m: &Module) -> naga::Module {
    naga::front::wgsl::parse_str(&m.source)
        .unwrap_or_else(|e| panic!("{}: {}", m.name, e.emit_to_string(&m.source)))
}

/// What a WGSL global declares, as the wrapper's [`Access`] would name it.
fn wgsl_access(module: &naga::Module, var: &naga::GlobalVariable) -> Option<Access> {
    match var.space {
        naga::AddressSpace::Uniform => Some(Access::Uniform),
        naga::AddressSpace::Storage { access } => {
            Some(if access.contains(naga::StorageAccess::STORE) {
                Access::ReadWrite
            } else {
                Access::Read
            })
        }
        naga::AddressSpace::Handle => match module.types[var.ty].inner {
            naga::TypeInner::Image {
                dim: naga::ImageDimension::D2,
                arrayed: true,
                class: naga::ImageClass::Sampled { .. },
            } => Some(Access::Texture),
            naga::TypeInner::Image {
                dim: naga::ImageDimension::D2,
                arrayed: true,
                class: naga::ImageClass::Storage { format, access },
            } if access == naga::StorageAccess::STORE => match format {
                naga::StorageFormat::Rgba32Float => {
                    Some(Access::StorageTexture(wgpu::TextureFormat::Rgba32Float))
                }
                naga::StorageFormat::Rgba16Float => {
                    Some(Access::StorageTexture(wgpu::TextureFormat::Rgba16Float))
                }
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// The differences between the module's bindings (group 0) and the wrapper's declared ones.
fn binding_mismatches(
    what: &str,
    module: &naga::Module,
    declared: &[(u32, Access)],
) -> Vec<String> {
    let wgsl: BTreeMap<u32, Option<Access>> = module
        .global_variables
        .iter()
        .filter_map(|(_, var)| {
            let binding = var.binding.as_ref()?;
            assert_eq!(binding.group, 0, "{what}: bind group {}", binding.group);
            Some((binding.binding, wgsl_access(module, var)))
        })
        .collect();
    let rust: BTreeMap<u32, Option<Access>> = declared.iter().map(|&(b, a)| (b, Some(a))).collect();
    let mut out = Vec::new();
    for b in wgsl
        .keys()
        .chain(rust.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (w, r) = (wgsl.get(b), rust.get(b));
        if w != r {
            out.push(format!("{what}: binding {b}: WGSL {w:?}, wrapper {r:?}"));
        }
    }
    out
}

#[test]
fn every_binding_has_the_access_its_wrapper_declares() {
    let mut bad = Vec::new();
    let modules = emunet::kernels::modules();
    for m in &modules {
        bad.extend(binding_mismatches(&m.name, &parse(m), &m.bindings));
    }
    assert!(modules.len() > 40, "only {} modules", modules.len());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The binding check catches a storage buffer declared read-only that the shader writes, a
/// binding the wrapper forgot, and a storage texture of another format.
#[test]
fn a_binding_out_of_step_is_caught() {
    use Access::*;
    let src = "@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var out: texture_storage_2d_array<rgba16float, write>;
@compute @workgroup_size(1) fn main() { y[0] = x[0]; }";
    let module = naga::front::wgsl::parse_str(src).unwrap();
    let f16 = StorageTexture(wgpu::TextureFormat::Rgba16Float);
    let f32 = StorageTexture(wgpu::TextureFormat::Rgba32Float);
    let ok = [(0, Read), (1, ReadWrite), (2, f16)];
    assert_eq!(binding_mismatches("ok", &module, &ok), Vec::<String>::new());
    let read_only = [(0, Read), (1, Read), (2, f16)];
    assert_eq!(
        binding_mismatches("read_only", &module, &read_only).len(),
        1
    );
    let forgot = [(0, Read), (2, f16)];
    assert_eq!(binding_mismatches("forgot", &module, &forgot).len(), 1);
    let format = [(0, Read), (1, ReadWrite), (2, f32)];
    assert_eq!(binding_mismatches("format", &module, &format).len(), 1);
}

/// The geometry constants the Rust side sizes grids and tables with, against the WGSL `const`s
/// of every module that declares them (each pair must be found in at least one module).
#[test]
fn geometry_constants_match_the_shaders() {
    use emunet::kernels::{cluster_moments, conv3x3, fir_filter, label_components};
    let rust = [
        ("conv3x3", "PX", conv3x3::PX),
        ("conv3x3", "OB", conv3x3::OB),
        ("conv3x3", "PW", conv3x3::PW),
        ("conv3x3_grad_input", "PX", conv3x3::PX),
        ("conv3x3_grad_input", "OB", conv3x3::OB),
        ("fir_filter", "PX", fir_filter::PX),
        ("label_components", "BLOCK", label_components::BLOCK),
        ("cluster_moments", "BLOCK", label_components::BLOCK),
        ("cluster_moments", "STRIDE", cluster_moments::STRIDE as u32),
        ("mask_area_cut", "STRIDE", cluster_moments::STRIDE as u32),
    ];
    let modules = emunet::kernels::modules();
    for (kernel, name, value) in rust {
        let mut found = 0;
        for m in modules
            .iter()
            .filter(|m| m.name.split(' ').next() == Some(kernel))
        {
            let decl = format!("const {name}: u32 = ");
            for line in m
                .source
                .lines()
                .filter(|l| l.trim_start().starts_with(&decl))
            {
                let wgsl: u32 = line.trim_start()[decl.len()..]
                    .trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .unwrap_or_else(|e| panic!("{}: {line}: {e}", m.name));
                assert_eq!(wgsl, value, "{}: {name}", m.name);
                found += 1;
            }
        }
        assert!(found > 0, "{kernel}: no module declares {name}");
    }
}
