//! Reading a catalog source (a descriptor file or a folder of them) into validated entities.
//!
//! Follows the Backstage descriptor format: `*.yaml`/`*.yml` files, several documents per file
//! separated by `---`, and `kind: Location` entities whose `spec.target`/`spec.targets` name more
//! files relative to the file that names them
//! (<https://backstage.io/docs/features/software-catalog/descriptor-format#kind-location>).
//!
//! Nothing here touches the store: the result is a [`SourceRead`] that `store` applies in one
//! transaction. One bad document never costs the good ones: each document is parsed on its own and
//! every problem is reported with its file, document index and line.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::entity::Entity;
use super::entity_ref::EntityRef;

/// One valid entity read from a source, with its whole document kept as JSON.
#[derive(Debug, Clone)]
pub struct ReadEntity {
    /// Kind, namespace and name (the document validated; the typed view is rebuilt from `body`
    /// when the snapshot is, so it is not kept here).
    pub entity_ref: EntityRef,
    /// The whole document as compact JSON with sorted keys (what the store keeps).
    pub body: String,
    /// Hex SHA-256 of `body`: an unchanged document has an unchanged hash, so a re-sync can skip it.
    pub hash: String,
    /// Where it came from: `path#document`.
    pub location: String,
}

/// Where in a source a problem sits: file, and when known the 1-based document index and the
/// 1-based line where that document starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file, as a path relative to the working directory or as configured.
    pub file: String,
    /// 1-based index of the document within the file (blank documents are not counted).
    pub document: Option<usize>,
    /// 1-based line where the document starts.
    pub line: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(doc) = self.document {
            write!(f, ": document {doc}")?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// Something in a source that was not taken as given. None of these stops the rest of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file could not be read (missing, permissions, not UTF-8).
    UnreadableFile {
        /// Where.
        at: Position,
        /// The I/O error.
        reason: String,
    },
    /// A document is not well-formed YAML.
    NotYaml {
        /// Where.
        at: Position,
        /// The parser's message.
        reason: String,
    },
    /// A document is YAML but not a valid entity.
    Invalid {
        /// Where.
        at: Position,
        /// The validation error.
        reason: String,
    },
    /// A Location target that idp does not follow: a URL, a glob, or a path outside the source.
    NotFollowed {
        /// The Location that names it.
        at: Position,
        /// The target as written.
        target: String,
        /// Why it was not followed.
        reason: &'static str,
    },
    /// A Location target that does not exist.
    MissingTarget {
        /// The Location that names it.
        at: Position,
        /// The target as written.
        target: String,
    },
    /// A Location target that leads back to a file already on the path that named it.
    Cycle {
        /// The Location that names it.
        at: Position,
        /// The target as written.
        target: String,
    },
    /// The same entity ref defined twice; the first definition is kept.
    Conflict {
        /// The entity ref, as `kind:namespace/name`.
        entity_ref: String,
        /// Where the kept definition is (`path#document`, or another source's name).
        kept: String,
        /// Where the dropped definition is.
        dropped: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnreadableFile { at, reason } => {
                write!(f, "{at}: cannot read the file: {reason}")
            }
            Self::NotYaml { at, reason } => write!(f, "{at}: not valid YAML: {reason}"),
            Self::Invalid { at, reason } => write!(f, "{at}: invalid entity: {reason}"),
            Self::NotFollowed { at, target, reason } => {
                write!(f, "{at}: Location target `{target}` not followed: {reason}")
            }
            Self::MissingTarget { at, target } => {
                write!(f, "{at}: Location target `{target}` does not exist")
            }
            Self::Cycle { at, target } => {
                write!(
                    f,
                    "{at}: Location target `{target}` leads back to a file that names it (cycle); not read again"
                )
            }
            Self::Conflict {
                entity_ref,
                kept,
                dropped,
            } => write!(
                f,
                "{dropped}: conflict: `{entity_ref}` is already defined at {kept}; the first definition is kept"
            ),
        }
    }
}

impl Problem {
    /// The file the problem is reported against.
    pub fn file(&self) -> &str {
        match self {
            Self::UnreadableFile { at, .. }
            | Self::NotYaml { at, .. }
            | Self::Invalid { at, .. }
            | Self::NotFollowed { at, .. }
            | Self::MissingTarget { at, .. }
            | Self::Cycle { at, .. } => &at.file,
            Self::Conflict { dropped, .. } => dropped.split('#').next().unwrap_or(dropped),
        }
    }
}

/// Everything read from one source.
#[derive(Debug, Clone, Default)]
pub struct SourceRead {
    /// The source's name: the path as configured (its identity in the store).
    pub source: String,
    /// Valid entities, each ref once, in reading order.
    pub entities: Vec<ReadEntity>,
    /// Every problem met, in reading order.
    pub problems: Vec<Problem>,
    /// How many files were read.
    pub files_read: usize,
    /// How many non-blank documents were seen.
    pub documents: usize,
}

impl SourceRead {
    /// True when nothing at all could be read: no file was readable, or no document in it.
    pub fn nothing_read(&self) -> bool {
        self.documents == 0
    }
}

/// The source name for a path: its canonical absolute path (the path as given, tidied, when it
/// does not exist).
pub fn source_name(path: &Path) -> String {
    // One canonical spelling, so `./catalog`, `catalog/` and `/srv/idp/catalog` are one source
    // and an edit is never mistaken for another source's conflicting copy.
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical.display().to_string();
    }
    let text = path.to_string_lossy();
    let trimmed = text.trim_end_matches('/');
    let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
    if trimmed.is_empty() {
        ".".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn is_descriptor(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// All descriptor files under a folder, depth-first, sorted by name at each level, sub-folders
/// before the files beside them. The order decides which copy wins when one entity is defined
/// twice in a source: per-entity files in sub-folders come before the aggregate or legacy files
/// that usually sit at the top of a catalog folder (Backstage's own example catalog is laid out
/// this way).
fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem::UnreadableFile {
                at: Position {
                    file: dir.display().to_string(),
                    document: None,
                    line: None,
                },
                reason: e.to_string(),
            });
            return;
        }
    };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => dirs.push(path),
            Ok(_) if is_descriptor(&path) => files.push(path),
            _ => {}
        }
    }
    files.sort();
    dirs.sort();
    for d in dirs {
        walk(&d, out, problems);
    }
    out.extend(files);
}

/// One document of a file: its 1-based index among non-blank documents, its first line and text.
struct Chunk<'a> {
    index: usize,
    line: usize,
    text: &'a str,
}

/// Splits a YAML stream at its document markers (`---` or `...` at the start of a line), so that
/// each document is parsed on its own and a syntax error in one cannot hide the others. Blank
/// documents (only whitespace and comments, e.g. between two stray `---`) are dropped.
fn split_documents<'a>(text: &'a str) -> Vec<Chunk<'a>> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    let mut line_no = 0usize;
    let push = |from: usize, to: usize, line: usize, chunks: &mut Vec<Chunk<'a>>| {
        let body = &text[from..to];
        let blank = body
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.starts_with('%'));
        if !blank {
            let index = chunks.len() + 1;
            chunks.push(Chunk {
                index,
                line,
                text: body,
            });
        }
    };
    for line in text.split_inclusive('\n') {
        line_no += 1;
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_start = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "..." || bare.starts_with("... ");
        if is_start || is_end {
            push(start, offset, start_line, &mut chunks);
            // Content after `--- ` on the same line belongs to the new document.
            start = if is_start {
                offset + 3
            } else {
                offset + line.len()
            };
            // The document starts on the marker's line only when content follows the marker.
            let inline = is_start && !bare[3..].trim().is_empty();
            start_line = if inline { line_no } else { line_no + 1 };
        }
        offset += line.len();
    }
    push(start, text.len(), start_line, &mut chunks);
    chunks
}

/// What reading one file produced, before duplicates across files are resolved.
struct FileRead {
    entities: Vec<(ReadEntity, Position)>,
    problems: Vec<Problem>,
    /// Location targets named in this file: (position of the Location, target text).
    targets: Vec<(Position, String)>,
    documents: usize,
}

fn location_targets(doc: &Value) -> Vec<String> {
    let Some(spec) = doc.get("spec") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(t) = spec.get("target").and_then(Value::as_str) {
        out.push(t.to_owned());
    }
    if let Some(list) = spec.get("targets").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    out
}

fn read_file(path: &Path, shown: &str) -> FileRead {
    let mut read = FileRead {
        entities: Vec::new(),
        problems: Vec::new(),
        targets: Vec::new(),
        documents: 0,
    };
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                read.problems.push(Problem::UnreadableFile {
                    at: Position {
                        file: shown.to_owned(),
                        document: None,
                        line: None,
                    },
                    reason: "the file is not UTF-8 text".to_owned(),
                });
                return read;
            }
        },
        Err(e) => {
            read.problems.push(Problem::UnreadableFile {
                at: Position {
                    file: shown.to_owned(),
                    document: None,
                    line: None,
                },
                reason: e.to_string(),
            });
            return read;
        }
    };
    read_text(&text, shown, read)
}

/// Reads descriptor text (one or more YAML documents) shown as `shown` in locations and problems.
fn read_text(text: &str, shown: &str, mut read: FileRead) -> FileRead {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for chunk in split_documents(text) {
        read.documents += 1;
        let at = Position {
            file: shown.to_owned(),
            document: Some(chunk.index),
            line: Some(chunk.line),
        };
        let mut doc: Value = match serde_saphyr::from_str(chunk.text) {
            Ok(Value::Null) => continue,
            Ok(doc) => doc,
            Err(e) => {
                let reason = e
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("unreadable")
                    .to_owned();
                read.problems.push(Problem::NotYaml { at, reason });
                continue;
            }
        };
        super::field_order::record_parameter_order(chunk.text, &mut doc);
        let entity = match Entity::from_document(&doc) {
            Ok(entity) => entity,
            Err(e) => {
                read.problems.push(Problem::Invalid {
                    at,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if entity.entity_ref.kind.eq_ignore_ascii_case("location") {
            for target in location_targets(&doc) {
                read.targets.push((at.clone(), target));
            }
        }
        let body = doc.to_string();
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let location = format!("{}#{}", shown, chunk.index);
        read.entities.push((
            ReadEntity {
                entity_ref: entity.entity_ref,
                body,
                hash,
                location,
            },
            at,
        ));
    }
    read
}

/// Reads descriptors handed over as text (a finished run's `catalog-info.yaml`, JSON or YAML, one or
/// more documents) as the source `source`. Location entities are kept but not followed: text from
/// a backend never makes idp read files. Never fails: every problem is in [`SourceRead::problems`].
pub fn read_descriptor_text(source: &str, text: &str) -> SourceRead {
    let empty = FileRead {
        entities: Vec::new(),
        problems: Vec::new(),
        targets: Vec::new(),
        documents: 0,
    };
    let read = read_text(text, source, empty);
    let mut seen = std::collections::HashSet::new();
    let mut out = SourceRead {
        source: source.to_owned(),
        files_read: 1,
        documents: read.documents,
        problems: read.problems,
        entities: Vec::new(),
    };
    for (entity, _) in read.entities {
        if seen.insert(entity.entity_ref.key()) {
            out.entities.push(entity);
        }
    }
    out
}

/// Reads one source: a descriptor file, or a folder read recursively; Location targets inside the
/// source's root (the folder, or the file's folder) are followed, each file read once.
///
/// Never fails: every problem is in [`SourceRead::problems`].
pub fn read_source(path: &Path) -> SourceRead {
    let source = source_name(path);
    let mut out = SourceRead {
        source,
        ..SourceRead::default()
    };
    let (root, mut wave) = if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files, &mut out.problems);
        // A symbolic link inside the folder may point anywhere; only what lies inside is read.
        if let Ok(root) = std::fs::canonicalize(path) {
            files.retain(|f| match std::fs::canonicalize(f) {
                Ok(target) if target.starts_with(&root) => true,
                Ok(_) => {
                    out.problems.push(Problem::NotFollowed {
                        at: Position {
                            file: f.display().to_string(),
                            document: None,
                            line: None,
                        },
                        target: f.display().to_string(),
                        reason: "it is a symbolic link to a file outside the source's folder",
                    });
                    false
                }
                Err(_) => true,
            });
        }
        (path.to_path_buf(), files)
    } else {
        (
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
            vec![path.to_path_buf()],
        )
    };
    let root_abs = std::fs::canonicalize(if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &root
    })
    .ok();

    // canonical path -> the file (canonical) whose Location named it, for cycle detection.
    let mut named_by: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
    let mut seen_refs: HashMap<String, String> = HashMap::new();
    let mut queued: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for f in wave.drain(..) {
        let canon = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if named_by.insert(canon, None).is_none() {
            queued.push((f, None));
        }
    }

    while !queued.is_empty() {
        let batch: Vec<(PathBuf, Option<PathBuf>)> = std::mem::take(&mut queued);
        let reads: Vec<FileRead> = batch
            .par_iter()
            .map(|(file, _)| read_file(file, &file.display().to_string()))
            .collect();
        for ((file, _), read) in batch.iter().zip(reads) {
            out.files_read += 1;
            out.documents += read.documents;
            out.problems.extend(read.problems);
            for (entity, at) in read.entities {
                let key = entity.entity_ref.key();
                if let Some(kept) = seen_refs.get(&key) {
                    out.problems.push(Problem::Conflict {
                        entity_ref: entity.entity_ref.to_string(),
                        kept: kept.clone(),
                        dropped: format!("{}#{}", at.file, at.document.unwrap_or(0)),
                    });
                    continue;
                }
                seen_refs.insert(key, entity.location.clone());
                out.entities.push(entity);
            }
            let this = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
            for (at, target) in read.targets {
                let reason = if target.contains("://") {
                    Some("URL targets are not fetched; add the file to a local source instead")
                } else if target.contains(['*', '?', '[']) {
                    Some("glob targets are not expanded; name each file")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    out.problems
                        .push(Problem::NotFollowed { at, target, reason });
                    continue;
                }
                let relative = target.strip_prefix("file:").unwrap_or(&target);
                let joined = file.parent().unwrap_or(Path::new(".")).join(relative);
                let Ok(canon) = std::fs::canonicalize(&joined) else {
                    out.problems.push(Problem::MissingTarget { at, target });
                    continue;
                };
                if root_abs
                    .as_ref()
                    .is_some_and(|root| !canon.starts_with(root))
                {
                    out.problems.push(Problem::NotFollowed {
                        at,
                        target,
                        reason: "it lies outside the source's folder",
                    });
                    continue;
                }
                if named_by.contains_key(&canon) {
                    // Already read or queued. A cycle only when it is on the chain that led here.
                    let mut cursor = Some(this.clone());
                    while let Some(c) = cursor {
                        if c == canon {
                            out.problems.push(Problem::Cycle {
                                at: at.clone(),
                                target: target.clone(),
                            });
                            break;
                        }
                        cursor = named_by.get(&c).cloned().flatten();
                    }
                    continue;
                }
                if canon.is_dir() {
                    let mut files = Vec::new();
                    walk(&joined, &mut files, &mut out.problems);
                    for f in files {
                        let c = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
                        if let std::collections::hash_map::Entry::Vacant(v) = named_by.entry(c) {
                            v.insert(Some(this.clone()));
                            queued.push((f, Some(this.clone())));
                        }
                    }
                    named_by.insert(canon, Some(this.clone()));
                    continue;
                }
                named_by.insert(canon, Some(this.clone()));
                queued.push((joined, Some(this.clone())));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stray_separators_and_comments_make_no_documents() {
        let text = "# header\n---\n---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n";
        let chunks = split_documents(text);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].line, 4);
        assert!(chunks[1].text.contains("b: 2"));
        assert_eq!(chunks[1].index, 2);
    }
}
