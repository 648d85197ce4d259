//! Every WGSL module the engine can build, in every configuration of every kernel, parses and
//! validates with naga — no GPU needed, so shader errors surface on any machine.

#[test]
fn all_shaders_validate() {
    let modules = emunet::kernels::modules();
    for m in &modules {
        let source = m.source.as_str();
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{}: {}", m.name, e.emit_to_string(source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", m.name));
        for entry in m.entries {
            assert!(
                module.entry_points.iter().any(|e| e.name == *entry),
                "{}: no entry point {entry}",
                m.name
            );
        }
    }
    println!("{} modules valid", modules.len());
}

/// A file in `shaders/` that no kernel's module includes is dead code, or a kernel whose
/// configurations miss one of its files.
#[test]
fn every_shader_file_is_in_some_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let modules = emunet::kernels::modules();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                modules.iter().any(|m| m.source.contains(&text)),
                "{} is in no module",
                path.display()
            );
            files += 1;
        }
    }
    assert!(files >= 40, "{files} shader files");
}
