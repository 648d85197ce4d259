//! Cluster tables (Parquet, ROOT): written, read back with the formats' own readers (the
//! `parquet` crate's record reader, `oxyroot`'s tree reader) and compared value for value with
//! the clusters CSV of the same frames; empty tables; errors; `segment --format`, `--shard`.
//! (`bindings/python/tests` reads the same tables with pyarrow and uproot.)

use crate::common;

use emunet::clusters::{self, Cluster};
use emunet_tools::formats::{COLUMNS, FrameClusters, TableFormat, write_table};
use parquet::file::reader::FileReader;
use parquet::record::Field;
use rand::RngExt;
use std::path::Path;

/// A value of a table cell.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Int(i64),
    Float(f64),
    Text(String),
}

/// The rows a table must hold: from each frame's clusters CSV text, parsed back.
fn expected_rows(frames: &[FrameClusters]) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for f in frames {
        let (view, plane) = f.view_and_plane();
        let csv = clusters::to_csv(&f.clusters);
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        for line in lines {
            let values: Vec<&str> = line.split(',').collect();
            let mut row = vec![
                Cell::Int(f.frame as i64),
                Cell::Text(f.name.clone()),
                Cell::Text(view.clone()),
                Cell::Int(plane as i64),
            ];
            for column in &COLUMNS[4..] {
                let v = values[header.iter().position(|h| h == column).unwrap()];
                row.push(match v.parse::<i64>() {
                    Ok(i) if !v.contains('.') => Cell::Int(i),
                    _ => Cell::Float(v.parse().unwrap()),
                });
            }
            rows.push(row);
        }
    }
    rows
}

fn parquet_rows(path: &Path) -> Vec<Vec<Cell>> {
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(path).unwrap(),
    )
    .unwrap();
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names, COLUMNS);
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(_, field)| match field {
                    Field::Int(i) => Cell::Int(*i as i64),
                    Field::Double(f) => Cell::Float(*f),
                    Field::Str(s) => Cell::Text(s.clone()),
                    other => panic!("unexpected field {other:?}"),
                })
                .collect()
        })
        .collect()
}

fn root_rows(path: &Path) -> Vec<Vec<Cell>> {
    let mut file = oxyroot::RootFile::open(path).unwrap();
    let tree = file
        .get_tree(emunet_tools::formats::root_table::TREE)
        .unwrap();
    let columns: Vec<Vec<Cell>> = COLUMNS
        .iter()
        .map(|&name| {
            let branch = tree.branch(name).unwrap_or_else(|| panic!("branch {name}"));
            match name {
                "name" | "view" => branch
                    .as_iter::<String>()
                    .unwrap()
                    .map(Cell::Text)
                    .collect(),
                "frame" | "plane" | "id" | "area" | "x0" | "y0" | "x1" | "y1" => branch
                    .as_iter::<i32>()
                    .unwrap()
                    .map(|v| Cell::Int(v as i64))
                    .collect(),
                _ => branch.as_iter::<f64>().unwrap().map(Cell::Float).collect(),
            }
        })
        .collect();
    let n = columns[0].len();
    assert!(columns.iter().all(|c| c.len() == n));
    (0..n)
        .map(|r| columns.iter().map(|c| c[r].clone()).collect())
        .collect()
}

fn random_clusters(rng: &mut impl rand::Rng, n: usize) -> Vec<Cluster> {
    (0..n)
        .map(|id| {
            let x0 = rng.random_range(0..1200usize);
            let y0 = rng.random_range(0..1000usize);
            Cluster {
                id,
                x: rng.random_range(0.0..1280.0),
                y: rng.random_range(0.0..1024.0),
                area: rng.random_range(1..65),
                volume: rng.random_range(0.0..9000.0),
                cog_x: rng.random_range(0.0..1280.0),
                cog_y: rng.random_range(0.0..1024.0),
                peak: rng.random_range(0.0..250.0),
                peak_x: x0 as f64 + 0.5,
                peak_y: y0 as f64 + 0.5,
                x0,
                y0,
                x1: x0 + rng.random_range(1..9usize),
                y1: y0 + rng.random_range(1..9usize),
                mxx: rng.random_range(0.0..9.0),
                mxy: rng.random_range(-3.0..3.0),
                myy: rng.random_range(0.0..9.0),
            }
        })
        .collect()
}

#[test]
fn tables_hold_the_csv_values_of_every_frame() {
    let mut rng = common::rng(41);
    let frames: Vec<FrameClusters> = [
        ("v0007_z03", 17),
        ("plain frame", 0),
        ("v0007_z04", 250),
        ("scan_001", 1),
    ]
    .iter()
    .enumerate()
    .map(|(k, &(name, n))| FrameClusters {
        frame: 100 + 3 * k,
        name: name.into(),
        clusters: random_clusters(&mut rng, n),
    })
    .collect();
    let want = expected_rows(&frames);
    assert_eq!(want.len(), 268);
    assert_eq!(want[0][2], Cell::Text("v0007".into()));
    assert_eq!(want[0][3], Cell::Int(3));
    assert_eq!(want[17 + 250][2], Cell::Text(String::new()));
    assert_eq!(want[17 + 250][3], Cell::Int(-1));
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("t.parquet");
    let root = dir.path().join("t.root");
    write_table(&pq, TableFormat::Parquet, &frames).unwrap();
    write_table(&root, TableFormat::Root, &frames).unwrap();
    assert_eq!(parquet_rows(&pq), want);
    assert_eq!(root_rows(&root), want);
    // Only the two tables are left: no temporaries.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    // The same frames give the same bytes (Parquet: reproducible runs).
    let again = dir.path().join("again.parquet");
    write_table(&again, TableFormat::Parquet, &frames).unwrap();
    assert_eq!(std::fs::read(&pq).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn empty_tables_are_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let frames = [FrameClusters {
        frame: 0,
        name: "blank".into(),
        clusters: Vec::new(),
    }];
    for (format, list) in [
        (TableFormat::Parquet, &frames[..]),
        (TableFormat::Parquet, &[][..]),
        (TableFormat::Root, &frames[..]),
        (TableFormat::Root, &[][..]),
    ] {
        let path = dir
            .path()
            .join(format!("empty{}.{}", list.len(), format.extension()));
        write_table(&path, format, list).unwrap();
        let rows = match format {
            TableFormat::Parquet => parquet_rows(&path),
            TableFormat::Root => root_rows(&path),
        };
        assert!(rows.is_empty(), "{format:?}");
    }
}

#[test]
fn an_unwritable_table_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/t.parquet");
    for format in [TableFormat::Parquet, TableFormat::Root] {
        let path = missing.with_extension(format.extension());
        let err = write_table(&path, format, &[]).unwrap_err();
        assert!(err.to_string().contains("no/such/folder"), "{err}");
    }
}

/// `count` simulated nominal frames of `size` in DIR/sim/images (returned).
fn simulate(dir: &Path, count: usize, size: (usize, usize), seed: u64) -> std::path::PathBuf {
    let sim = dir.join("sim");
    let (count, w, h, seed) = (
        count.to_string(),
        size.0.to_string(),
        size.1.to_string(),
        seed.to_string(),
    );
    let (ok, _, err) = common::emunet(&[
        "simulate",
        "--out",
        sim.to_str().unwrap(),
        "--count",
        &count,
        "--width",
        &w,
        "--height",
        &h,
        "--seed",
        &seed,
    ]);
    assert!(ok, "{err}");
    sim.join("images")
}

/// `segment --format parquet|root` writes the CSV's clusters; shards split the frame list into
/// contiguous blocks whose tables together are the whole run's.
#[test]
fn segment_writes_tables_and_shards_cover_the_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let images = simulate(dir.path(), 5, (96, 64), 12);
    // A frame that cannot be read is reported and left out of the table.
    std::fs::write(images.join("broken.png"), b"not a png").unwrap();
    let run = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec!["segment", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(images.to_str().unwrap());
        let (ok, stdout, err) = common::emunet(&args);
        (ok, stdout, err, out)
    };
    let (ok, _, err, csv) = run("csv", &[]);
    assert!(!ok && err.contains("broken.png"), "{err}");
    // The rows the CSV files give, with each frame's index in the sorted folder.
    let mut names: Vec<String> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    assert_eq!(names[0], "broken.png");
    let frames: Vec<FrameClusters> = names
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, n)| {
            let stem = n.trim_end_matches(".png");
            let text = std::fs::read_to_string(csv.join(format!("{stem}.clusters.csv"))).unwrap();
            FrameClusters {
                frame: k,
                name: stem.into(),
                clusters: clusters_from_csv(&text),
            }
        })
        .collect();
    let want = expected_rows(&frames);
    assert!(want.len() > 20, "{}", want.len());
    let (ok, stdout, err, pq) = run("pq", &["--format", "parquet", "--clusters-only"]);
    assert!(!ok && err.contains("broken.png"), "{err}");
    assert!(stdout.contains("clusters.parquet"), "{stdout}");
    assert_eq!(parquet_rows(&pq.join("clusters.parquet")), want);
    // --clusters-only: the table alone.
    assert_eq!(std::fs::read_dir(&pq).unwrap().count(), 1);
    let (_, _, _, root) = run("root", &["--format", "root", "--clusters-only"]);
    assert_eq!(root_rows(&root.join("clusters.root")), want);
    // Three shards of six frames: 2 + 2 + 2, together the whole run, each frame once.
    let mut joined = Vec::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let (_, _, err, out) = run("shards", &["--format", "parquet", "--shard", &shard]);
        assert!(
            err.contains(&format!("shard {i}/3: frames {}..={}", 2 * i, 2 * i + 1)),
            "{err}"
        );
        joined.extend(parquet_rows(
            &out.join(format!("clusters.shard-{i}-of-3.parquet")),
        ));
    }
    assert_eq!(joined, want);
    // A complete table is not redone with --skip-existing.
    let (ok, stdout, _, _) = run(
        "shards",
        &["--format", "parquet", "--shard", "1/3", "--skip-existing"],
    );
    assert!(ok && stdout.contains("nothing left to do"), "{stdout}");
    // Bad shards are refused.
    for bad in ["3/3", "1", "a/b", "0/0", "2/1"] {
        let (ok, _, err, _) = run("bad", &["--shard", bad]);
        assert!(!ok && err.contains("--shard"), "{bad}: {err}");
    }
}

/// The clusters of a clusters CSV (values as printed).
fn clusters_from_csv(text: &str) -> Vec<Cluster> {
    text.lines()
        .skip(1)
        .map(|line| {
            let v: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
            Cluster {
                id: v[0] as usize,
                x: v[1],
                y: v[2],
                area: v[3] as usize,
                volume: v[4],
                cog_x: v[5],
                cog_y: v[6],
                peak: v[7],
                peak_x: v[8],
                peak_y: v[9],
                x0: v[10] as usize,
                y0: v[11] as usize,
                x1: v[12] as usize,
                y1: v[13] as usize,
                mxx: v[14],
                mxy: v[15],
                myy: v[16],
            }
        })
        .collect()
}

/// The library's part of a plate job: the frames' table equals the CLI's for the same frames, a
/// frame that cannot be read is listed with its reason, and the frame indices are the job's.
#[test]
fn segment_part_writes_the_clis_rows_and_lists_bad_frames() {
    use emunet_tools::formats::parts::segment_part;
    let dir = tempfile::tempdir().unwrap();
    let images = simulate(dir.path(), 10, (80, 64), 19);
    let cli = dir.path().join("cli");
    let (ok, _, err) = common::emunet(&[
        "segment",
        "--out",
        cli.to_str().unwrap(),
        "--format",
        "parquet",
        "--clusters-only",
        images.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let all = parquet_rows(&cli.join("clusters.parquet"));
    // Frames 3..10 of the job, with an unreadable file among them (batches of 8 cut at it).
    let mut frames: Vec<(usize, std::path::PathBuf)> = (3..10)
        .map(|k| (k, images.join(format!("f{k:05}.png"))))
        .collect();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    frames.insert(2, (99, broken.clone()));
    let mut unet = emunet::Unet::new(common::ctx(), &emunet::Model::shipped().unwrap()).unwrap();
    let table = dir.path().join("part.parquet");
    let summary = segment_part(&mut unet, &frames, &table, TableFormat::Parquet).unwrap();
    assert_eq!((summary.frames, summary.done), (8, 7));
    assert_eq!(summary.failed.len(), 1);
    assert!(summary.failed[0].0.ends_with("broken.png"));
    assert!(!summary.failed[0].1.is_empty());
    let want: Vec<Vec<Cell>> = all
        .into_iter()
        .filter(|r| matches!(r[0], Cell::Int(k) if k >= 3))
        .collect();
    assert_eq!(summary.clusters, want.len());
    assert_eq!(parquet_rows(&table), want);
}
