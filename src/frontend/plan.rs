//! What a publish does, decided from the built files and what the site prefix
//! already holds, before any byte moves: which files to upload in which order,
//! which to skip, which paths CloudFront must forget. Pure.

use std::collections::BTreeMap;

use super::files::{INDEX, SiteFile};

/// The upload order that never breaks an open tab or a fresh load: every file a
/// new `index.html` can reference exists before `index.html` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishPlan<'a> {
    /// Content-hashed files: new names, so nothing served yet refers to them (parallel).
    pub immutable: Vec<&'a SiteFile>,
    /// Files under fixed names other than `index.html` (`favicon.svg`, `robots.txt`).
    pub revalidated: Vec<&'a SiteFile>,
    /// `index.html`, when it changed: the one object that switches the page.
    pub index: Option<&'a SiteFile>,
    /// Files already published with the same bytes and headers: not uploaded.
    pub unchanged: Vec<&'a SiteFile>,
    /// What CloudFront must drop: the changed files that are not content-hashed,
    /// and `/` with `/index.html` (the distribution's root object).
    pub invalidate: Vec<String>,
}

impl PublishPlan<'_> {
    /// Every upload, in order.
    #[cfg(test)]
    pub fn uploads(&self) -> impl Iterator<Item = &SiteFile> {
        self.immutable
            .iter()
            .chain(&self.revalidated)
            .chain(&self.index)
            .copied()
    }

    pub fn upload_count(&self) -> usize {
        self.immutable.len() + self.revalidated.len() + usize::from(self.index.is_some())
    }
}

/// Plans the publish of `files` over what the prefix holds (`published`: the
/// ETag of each object, by path relative to the prefix). A file is unchanged when its MD5 equals the
/// published ETag (a single-part upload's ETag is its MD5) and, if the live
/// release recorded it, with the same headers (`recorded`).
pub fn plan<'a>(
    files: &'a [SiteFile],
    published: &BTreeMap<String, String>,
    recorded: &[SiteFile],
) -> PublishPlan<'a> {
    let mut plan = PublishPlan {
        immutable: Vec::new(),
        revalidated: Vec::new(),
        index: None,
        unchanged: Vec::new(),
        invalidate: Vec::new(),
    };
    for file in files {
        let same_bytes = published
            .get(&file.path)
            .is_some_and(|etag| etag.eq_ignore_ascii_case(&file.md5));
        let same_headers = recorded
            .iter()
            .find(|old| old.path == file.path)
            .is_none_or(|old| {
                old.content_type == file.content_type && old.cache_control == file.cache_control
            });
        if same_bytes && same_headers {
            plan.unchanged.push(file);
            continue;
        }
        if file.is_immutable() {
            plan.immutable.push(file);
            continue;
        }
        if file.path == INDEX {
            plan.index = Some(file);
            plan.invalidate.push("/".to_owned());
        } else {
            plan.revalidated.push(file);
        }
        plan.invalidate.push(format!("/{}", file.path));
    }
    plan.invalidate.sort();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::files::{IMMUTABLE, describe};

    fn published(files: &[&SiteFile]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|file| (file.path.clone(), file.md5.to_uppercase()))
            .collect()
    }

    fn paths<'a>(files: impl IntoIterator<Item = &'a SiteFile>) -> Vec<&'a str> {
        files.into_iter().map(|file| file.path.as_str()).collect()
    }

    #[test]
    fn a_first_publish_uploads_hashed_files_then_the_rest_then_index() {
        let files = [
            describe("favicon.svg", b"<svg/>"),
            describe("index.html", b"<html>"),
            describe("assets/index-CCQ7F_Jz.js", b"js"),
            describe("assets/index-S-cCqVu4.css", b"css"),
        ];
        let plan = plan(&files, &BTreeMap::new(), &[]);
        assert_eq!(
            paths(plan.uploads()),
            [
                "assets/index-CCQ7F_Jz.js",
                "assets/index-S-cCqVu4.css",
                "favicon.svg",
                "index.html"
            ]
        );
        assert!(
            plan.immutable
                .iter()
                .all(|file| file.cache_control == IMMUTABLE)
        );
        assert_eq!(plan.invalidate, ["/", "/favicon.svg", "/index.html"]);
        assert_eq!(plan.upload_count(), 4);
    }

    #[test]
    fn an_unchanged_site_uploads_and_invalidates_nothing() {
        let files = [
            describe("index.html", b"<html>"),
            describe("assets/index-CCQ7F_Jz.js", b"js"),
        ];
        let all: Vec<&SiteFile> = files.iter().collect();
        let plan = plan(&files, &published(&all), &files);
        assert_eq!(plan.upload_count(), 0);
        assert_eq!(plan.unchanged.len(), 2);
        assert!(plan.invalidate.is_empty());
    }

    #[test]
    fn one_changed_chunk_uploads_it_and_the_index_and_invalidates_only_the_index() {
        let old_js = describe("assets/index-CCQ7F_Jz.js", b"js");
        let css = describe("assets/index-S-cCqVu4.css", b"css");
        let robots = describe("robots.txt", b"User-agent: *");
        let old_index = describe("index.html", b"<html>1");
        let files = [
            describe("assets/index-Dx9aB_c1.js", b"js 2"),
            css.clone(),
            robots.clone(),
            describe("index.html", b"<html>2"),
        ];
        let plan = plan(
            &files,
            &published(&[&old_js, &css, &robots, &old_index]),
            &[],
        );
        assert_eq!(
            paths(plan.uploads()),
            ["assets/index-Dx9aB_c1.js", "index.html"]
        );
        assert_eq!(
            paths(plan.unchanged.clone()),
            ["assets/index-S-cCqVu4.css", "robots.txt"]
        );
        assert_eq!(plan.invalidate, ["/", "/index.html"]);
    }

    #[test]
    fn same_bytes_with_other_headers_are_uploaded_again() {
        let mut old = describe("robots.txt", b"x");
        old.content_type = "application/octet-stream".to_owned();
        let files = [describe("robots.txt", b"x")];
        let plan = plan(&files, &published(&[&files[0]]), &[old]);
        assert_eq!(paths(plan.uploads()), ["robots.txt"]);
        assert_eq!(plan.invalidate, ["/robots.txt"]);
    }
}
