"""Contacts in and out as files: the export's columns, the header families other systems
write (``columns``), and the CSV/XLSX reader the import streams rows from (``reader``)."""
