//! Streaming: the city a block at a time. Memory is bounded by one block (its persons,
//! and when asked its claims), whatever the city's size.

use crate::city::City;
use crate::claims::ClaimEvent;
use crate::person::{Person, generate_block};

/// One block of persons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub index: u32,
    pub persons: Vec<Person>,
}

impl Block {
    /// Every claim of the block's persons, in date order: by the day of settlement
    /// (discharge), then admission, person and the person's claim number. A person's
    /// claims are all in their block, in their own order.
    #[must_use]
    pub fn claims(&self, city: &City) -> Vec<ClaimEvent> {
        let mut all = Vec::new();
        let mut year = Vec::new();
        for person in &self.persons {
            city.year_of(person, &mut year);
            all.extend_from_slice(&year);
        }
        all.sort_by_key(|e| (e.discharge, e.admission, e.person, e.seq));
        all
    }

    /// The person of a claim of this block.
    #[must_use]
    pub fn person(&self, event: &ClaimEvent) -> Option<&Person> {
        let first = self.persons.first()?.index;
        self.persons.get(usize::try_from(event.person.checked_sub(first)?).ok()?)
    }
}

impl City {
    /// Block `index` (`0..config.blocks()`).
    #[must_use]
    pub fn block(&self, index: u32) -> Block {
        let mut persons = Vec::new();
        generate_block(self, index, &mut persons);
        Block { index, persons }
    }

    /// The persons of block `index`, into `out` (its buffer reused).
    pub fn block_into(&self, index: u32, out: &mut Vec<Person>) {
        generate_block(self, index, out);
    }

    /// Every block in order, generated one at a time.
    #[must_use]
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks { city: self, next: 0 }
    }

    /// Every person of the city in order, a block at a time.
    pub fn persons(&self) -> impl Iterator<Item = Person> + '_ {
        self.chunks().flat_map(|block| block.persons.into_iter())
    }
}

/// The blocks of a city, one at a time.
#[derive(Debug)]
pub struct Chunks<'a> {
    city: &'a City,
    next: u32,
}

impl Iterator for Chunks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        if self.next >= self.city.config.blocks() {
            return None;
        }
        let block = self.city.block(self.next);
        self.next += 1;
        Some(block)
    }
}
