"""The PACS door into the same analysis the service runs: DICOMweb pull/push (:mod:`chestxai.pacs.dicomweb`), a
DIMSE node (:mod:`chestxai.pacs.node`) and the result objects, built with highdicom (:mod:`chestxai.pacs.objects`)."""
