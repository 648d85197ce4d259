//! Every uniform struct of every shader module against its Rust mirror (`#[repr(C)]` parameter
//! structs in `kernels`): the same size, and each named field at the same offset, read from the
//! WGSL through naga's layouter. A struct that one side changes and the other does not fails
//! here, not on a GPU.

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
    for (name, source) in emunet::kernels::modules() {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        bad.extend(mismatches(name, &module, &mirrors));
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
