use super::super::fixtures;
use super::super::pyproject::BuildSystem;
use super::super::wheel::WheelFields;
use super::*;

/// The sample's build system: its pyproject.toml, or none.
fn build_system(sample: &str) -> BuildSystem {
    if fixtures::dir(sample).join("pyproject.toml").exists() {
        BuildSystem::parse(&fixtures::pyproject(sample)).unwrap()
    } else {
        BuildSystem::without_pyproject()
    }
}

fn backend(sample: &str) -> Result<Backend> {
    infer(&WheelFields::parse(&fixtures::wheel_text(sample)).unwrap(), &build_system(sample))
}

fn pins(sample: &str) -> (BackendKind, Vec<String>, Vec<String>, String) {
    let b = backend(sample).unwrap();
    let choose = b.choose.iter().map(|(n, s)| format!("{n}{s}")).collect();
    (b.kind, b.pins.iter().map(Pin::to_string).collect(), choose, b.build_target())
}

impl Backend {
    fn build_target(&self) -> String {
        format!("{}{}", self.module, self.object.as_deref().map(|o| format!(":{o}")).unwrap_or_default())
    }
}

#[test]
fn real_wheels_name_their_backend_and_version() {
    use BackendKind::*;
    let none: Vec<String> = Vec::new();
    assert_eq!(
        pins("idna-3.10"),
        (FlitCore, vec!["flit-core==3.9.0".into()], none.clone(), "flit_core.buildapi".into())
    );
    assert_eq!(pins("packaging-24.2").1, ["flit-core==3.10.1"]);
    assert_eq!(
        pins("annotated-types-0.7.0"),
        (Hatchling, vec!["hatchling==1.24.2".into()], none.clone(), "hatchling.build".into())
    );
    assert_eq!(
        pins("rich-13.9.4"),
        (PoetryCore, vec!["poetry-core==1.9.0".into()], none.clone(), "poetry.core.masonry.api".into())
    );
    assert_eq!(
        pins("fastapi-0.115.5"),
        (PdmBackend, vec!["pdm-backend==2.4.3".into()], none.clone(), "pdm.backend".into())
    );
    // setuptools >= 70.1 names itself; no pyproject.toml: the legacy backend.
    assert_eq!(
        pins("six-1.17.0"),
        (
            Setuptools,
            vec!["setuptools==75.6.0".into()],
            none.clone(),
            "setuptools.build_meta:__legacy__".into()
        )
    );
    // The wheel project's bdist_wheel: wheel pinned, setuptools to choose, within the sdist's own bound.
    assert_eq!(
        pins("pluggy-1.5.0"),
        (
            Setuptools,
            vec!["wheel==0.43.0".into()],
            vec!["setuptools<70.1,>=45.0".into()],
            "setuptools.build_meta".into()
        )
    );
    assert_eq!(pins("six-1.16.0").1, ["wheel==0.36.2"]);
    let pluggy = backend("pluggy-1.5.0").unwrap();
    let others: Vec<&str> = pluggy.other_requires.iter().map(|r| r.raw.as_str()).collect();
    assert_eq!(others, ["setuptools-scm[toml]>=6.2.3"]);
    assert!(pluggy.inferences.iter().any(|i| i.evidence.contains("Generator `bdist_wheel (0.43.0)`")));
}

#[test]
fn in_tree_backends_are_not_pinned_from_the_index() {
    // pdm-backend builds itself from src/ (Generator `pdm-backend (0.0.0+local)`), poetry-core too.
    for sample in ["pdm-backend-2.4.3", "poetry-core-1.9.1"] {
        let b = backend(sample).unwrap();
        assert!(b.pins.is_empty(), "{sample}: {:?}", b.pins);
        assert_eq!(b.backend_path, ["src"]);
        assert!(b.inferences.iter().any(|i| i.evidence.contains("in-tree backend")), "{sample}");
    }
}

#[test]
fn missing_unknown_or_disagreeing_generators_are_not_inferable() {
    let idna = build_system("idna-3.10");
    let wheel = |generator: &str| {
        let line = if generator.is_empty() { String::new() } else { format!("Generator: {generator}\n") };
        WheelFields::parse(&format!("Wheel-Version: 1.0\n{line}Root-Is-Purelib: true\nTag: py3-none-any\n"))
            .unwrap()
    };
    let error = |generator: &str, build: &BuildSystem| {
        let e = infer(&wheel(generator), build).unwrap_err();
        assert!(crate::rebuild::is_not_inferable(&e), "{e:#}");
        e.to_string()
    };
    assert!(error("", &idna).contains("no Generator line"));
    assert!(error("maturin (1.7.0)", &idna).contains("none of the backends known here"));
    assert!(error("hatchling 1.25.0", &idna).contains("build-backend is `flit_core.buildapi`"));
    // Outside the sdist's own `flit_core >=3.2,<4`.
    assert!(error("flit 4.0.0", &idna).contains("requires `flit_core >=3.2,<4`"));
    assert!(error("setuptools (68.0.0)", &BuildSystem::without_pyproject()).contains("older than 70.1"));
    let poetry_tool = BuildSystem::parse(
        "[build-system]\nrequires = [\"poetry>=0.12\"]\nbuild-backend = \"poetry.masonry.api\"\n",
    )
    .unwrap();
    assert!(error("poetry 1.0.8", &poetry_tool).contains("poetry tool itself"));
    assert!(error("flit three", &idna).contains("not `TOOL VERSION`"));
}

#[test]
fn setuptools_is_chosen_as_of_the_wheel_upload() {
    let releases = [
        Release { version: "69.5.1".into(), uploaded: 1713200000, yanked: false },
        Release { version: "69.4.0".into(), uploaded: 1712000000, yanked: false },
        Release { version: "70.0.0b1".into(), uploaded: 1713300000, yanked: false },
        Release { version: "69.5.2".into(), uploaded: 1713300000, yanked: true },
        Release { version: "70.1.0".into(), uploaded: 1719000000, yanked: false },
    ];
    let below = Specifier::parse("<70.1,>=45.0").unwrap();
    // pluggy 1.5.0's wheel went up 2024-04-20 (1713648878).
    let (pin, inference) = newest_at("setuptools", &releases, 1713648878, &below).unwrap();
    assert_eq!(pin.to_string(), "setuptools==69.5.1");
    assert!(inference.evidence.contains("before the wheel"));
    let (pin, _) = newest_at("setuptools", &releases, 1713100000, &below).unwrap();
    assert_eq!(pin.version, "69.4.0");
    let none = newest_at("setuptools", &releases, 1700000000, &below).unwrap_err();
    assert!(crate::rebuild::is_not_inferable(&none) && none.to_string().contains("no release of setuptools"));
}
