//! The web app in `frontend/`, published with the stack: built with a deploy's
//! outputs ([`build`]), described file by file ([`files`]), planned against
//! what the site already holds ([`plan`]) and published so that no open tab
//! breaks, then recorded in the ledger ([`publish`]).

pub mod build;
pub mod files;
pub mod plan;
pub mod publish;
