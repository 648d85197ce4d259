//! The context's pipeline cache: nothing is compiled before it is asked for, each (kernel,
//! configuration) is compiled once and shared, and a segmentation compiles only its engine's
//! kernels, once.

use emunet::kernels::{Maxpool2x2, Precision, Storage};
use emunet::unet::Engine;
use emunet::{Context, Frame, Model, Unet};
use std::sync::Arc;

fn fresh() -> Arc<Context> {
    Arc::new(Context::new().expect("GPU tests need an adapter"))
}

#[test]
fn a_kernel_is_compiled_on_first_use_and_shared_after() {
    let ctx = fresh();
    assert_eq!(ctx.compiled_kernels(), Vec::<String>::new());
    let a = ctx.kernel::<Maxpool2x2>(Storage::Buffers);
    let b = ctx.kernel::<Maxpool2x2>(Storage::Buffers);
    assert!(
        Arc::ptr_eq(&a, &b),
        "the same configuration is compiled once"
    );
    let c = ctx.kernel::<Maxpool2x2>(Storage::Textures(Precision::F16));
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(
        ctx.compiled_kernels(),
        ["maxpool2x2 Buffers", "maxpool2x2 Textures(F16)"]
    );
}

#[test]
fn each_engine_compiles_only_its_own_kernels_once() {
    let model = Model::init_he(2, 8, 7).unwrap();
    let frame =
        Frame::from_u8(40, 24, (0..40 * 24).map(|i| (i * 37 % 251) as u8).collect()).unwrap();
    for engine in [Engine::Ops, Engine::Fused] {
        let ctx = fresh();
        let mut unet = Unet::new(ctx.clone(), &model).unwrap();
        unet.set_engine(engine);
        unet.segment(&frame).unwrap();
        let built = ctx.compiled_kernels();
        let convs: Vec<&String> = built.iter().filter(|k| k.starts_with("conv3x3 ")).collect();
        match engine {
            // One conv form for every layer; the separate head and normalisation.
            Engine::Ops => {
                assert_eq!(convs.len(), 1, "{built:?}");
                assert!(convs[0].contains("storage: Buffers"), "{built:?}");
                assert!(built.iter().any(|k| k == "head1x1 ()"), "{built:?}");
                assert!(built.iter().any(|k| k == "normalize ()"), "{built:?}");
            }
            // The frame conv, the plain and pooling texture convs and the head conv; no buffers.
            Engine::Fused => {
                assert!(convs.iter().all(|k| !k.contains("Buffers")), "{built:?}");
                for form in ["Frame(", "Store)", "Pool)", "Head(F32))"] {
                    assert!(convs.iter().any(|k| k.contains(form)), "{form}: {built:?}");
                }
                assert!(
                    !built.iter().any(|k| k.starts_with("head1x1 ")),
                    "{built:?}"
                );
            }
            Engine::Auto => unreachable!(),
        }
        // A second frame compiles nothing new.
        unet.segment(&frame).unwrap();
        assert_eq!(ctx.compiled_kernels(), built, "{engine:?}");
    }
}
