"""Where agent developers already are: an MCP server (:mod:`.mcp_server`, ``tenantry mcp``) and a LangGraph store
(:mod:`.langgraph_store`). Each needs its optional dependencies (``pip install 'tenantry[agents]'``) and is imported
only when used."""
