//! Debian's own file formats, read the way dpkg reads them: control
//! paragraphs (a `.dsc`, `debian/control`), relationship fields
//! (`Build-Depends`) and `debian/changelog`'s dates. Shared by the `dsc`
//! source type and by recipes that take their packages from a `.dsc`.

pub mod changelog;
pub mod control;
pub mod depends;
pub mod dsc;
