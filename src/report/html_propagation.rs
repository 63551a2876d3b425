//! report.html's tree of how a difference got into an output: the
//! process where it entered, the file it wrote, the process that read
//! that and wrote the next, down to the output ([`crate::trace::Propagation`]).

use crate::trace::Propagation;
use maud::{html, Markup};

/// One tree per root cause; nothing when there is no propagation.
pub fn propagation_trees(propagation: &[Propagation]) -> Markup {
    html! {
        @for p in propagation {
            @if let Some(first) = p.chain.first() {
                div.propagation {
                    p {
                        strong { "entered at: " } code { (first.written_by) }
                        @for ancestor in p.entered.iter().skip(1).take(2) {
                            " ← " small { code { (ancestor) } }
                        }
                        @if !p.ran.is_empty() {
                            br; small { "it ran: " @for (i, r) in p.ran.iter().enumerate() {
                                @if i > 0 { ", " } code { (r) }
                            } }
                        }
                    }
                    (chain(p, 0))
                    @if let Some(hint) = &p.hint { p { strong { "fix: " } (hint) } }
                }
            }
        }
    }
}

/// Step `i` of the chain and, nested in it, the steps after.
fn chain(p: &Propagation, i: usize) -> Markup {
    let Some(step) = p.chain.get(i) else { return html! {} };
    let last = i + 1 == p.chain.len();
    html! {
        ul.chain { li {
            @if i > 0 { code { (step.written_by) } " wrote " }
            "file " code.file { (step.file) }
            @if last { @if let Some(member) = &p.member { ", packed as member " code { (member) } } }
            (chain(p, i + 1))
        } }
    }
}
