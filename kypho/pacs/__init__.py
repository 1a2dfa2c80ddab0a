"""kypho as a PACS node: a C-STORE SCP that analyses CT series and sends results back."""
