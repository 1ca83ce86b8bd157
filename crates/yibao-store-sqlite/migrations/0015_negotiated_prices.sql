-- 谈判药品 (R-PAY-2, issue 15): a catalogue version whose price was set by national
-- negotiation (the national hi_nego_drug_flag); its price cap is the negotiated price.
ALTER TABLE catalogue_versions ADD COLUMN negotiated INTEGER NOT NULL DEFAULT 0 CHECK (negotiated IN (0, 1));
