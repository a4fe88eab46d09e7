"""Pacemaker state: the cluster status (``crm_mon``) and the configuration section of the CIB.

Both read the running cluster through its XML interfaces, which are stable across versions
(unlike the text of ``crm status``). With pacemaker stopped or absent, each returns ``default()``.

Example::

    status = host.get_fact(CrmMon)
    status["dc"], status["quorum"], status["nodes"]["online"]
    [(r["id"], r["role"], r["nodes"]) for r in status["resources"]]
    cib = host.get_fact(CibConfiguration)
    cib["properties"]["stonith-enabled"], cib["resources"]["vips"]
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from pyinfra.api import FactBase, FactProcessError
from typing_extensions import override


def parse_xml(output: list[str], what: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring("\n".join(output))
    except ElementTree.ParseError as error:
        raise FactProcessError(f"{what} did not print XML: {error}")


def element_tree(element: ElementTree.Element) -> dict[str, Any]:
    """An XML element as plain data: ``{"tag", "attrs", "children"}`` (children in order).

    Both the CIB fact and the operations that write the CIB compare objects in this form.
    """
    return {
        "tag": element.tag,
        "attrs": dict(element.attrib),
        "children": [element_tree(child) for child in element],
    }


def _true(value: str | None) -> bool:
    return value == "true"


class CrmMon(FactBase[dict[str, Any]]):
    """``crm_mon --output-as=xml`` as data (the seed's ``crm status``).

    .. code:: python

        {"running": True, "dc": "ctrl-2", "quorum": True,
         "nodes": {"online": ["ctrl-1", ...], "offline": [], "standby": []},
         "resources": [{"id": "vipsrv", "agent": "ocf:heartbeat:IPaddr2", "role": "Started",
                        "active": True, "failed": False, "nodes": ["ctrl-1"], "parent": "vips"},
                       ...]}

    ``parent`` is the group or clone holding the resource; a clone lists one entry per
    instance (stopped instances with ``nodes == []``).
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "crm_mon"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"running": False, "dc": None, "quorum": False,
                "nodes": {"online": [], "offline": [], "standby": []}, "resources": []}

    def command(self) -> str:
        # Not connected (pacemaker stopped): exit 102, CRM_EX_NOT_CONNECTED (crm_error -X --list),
        # and the XML still says why. Any other status (4: insufficient privileges) fails the fact.
        return "crm_mon --output-as=xml || [ $? -eq 102 ]"

    def process(self, output: list[str]) -> dict[str, Any]:
        root = parse_xml(output, "crm_mon")
        status = root.find("status")
        if root.tag != "pacemaker-result" or status is None:
            raise FactProcessError(f"unexpected crm_mon XML: root <{root.tag}>")
        if status.get("code") != "0":
            return {**self.default(), "error": status.get("message")}
        dc = root.find("summary/current_dc")
        nodes: dict[str, list[str]] = {"online": [], "offline": [], "standby": []}
        for node in root.iterfind("nodes/node"):
            name = node.get("name")
            nodes["online" if _true(node.get("online")) else "offline"].append(name)
            if _true(node.get("standby")):
                nodes["standby"].append(name)
        resources: list[dict[str, Any]] = []
        self._collect(root.find("resources"), None, resources)
        return {
            "running": True,
            "dc": dc.get("name") if dc is not None and _true(dc.get("present")) else None,
            "quorum": dc is not None and _true(dc.get("with_quorum")),
            "nodes": nodes,
            "resources": resources,
        }

    def _collect(self, parent, parent_id: str | None, into: list[dict[str, Any]]) -> None:
        if parent is None:
            return
        for child in parent:
            if child.tag == "resource":
                into.append({
                    "id": child.get("id"),
                    "agent": child.get("resource_agent"),
                    "role": child.get("role"),
                    "active": _true(child.get("active")),
                    "failed": _true(child.get("failed")),
                    "nodes": [node.get("name") for node in child.iterfind("node")],
                    "parent": parent_id,
                })
            elif child.tag in ("group", "clone", "bundle"):
                self._collect(child, child.get("id"), into)


class CibConfiguration(FactBase[dict[str, Any]]):
    """The ``configuration`` section of the CIB (``cibadmin --query --scope configuration``).

    .. code:: python

        {"properties": {"stonith-enabled": "false", ...},     # cib-bootstrap-options
         "resources": {"vips": {"tag": "group", "attrs": {...}, "children": [...]}, ...},
         "constraints": {"vips-with-haproxy": {"tag": "rsc_colocation", ...}, ...}}

    Resources and constraints are the top-level objects by id, as ``element_tree()`` data.
    """

    @override
    def requires_command(self, *args, **kwargs) -> str:
        return "cibadmin"

    @staticmethod
    def default() -> dict[str, Any]:
        return {"properties": {}, "resources": {}, "constraints": {}}

    def command(self) -> str:
        # Not connected (pacemaker stopped): exit 102 and nothing on stdout. Any other status
        # (124: timeout) fails the fact. A user outside haclient gets 102 too (lab 1): run as root.
        return "cibadmin --query --scope configuration || [ $? -eq 102 ]"

    def process(self, output: list[str]) -> dict[str, Any]:
        root = parse_xml(output, "cibadmin")
        if root.tag != "configuration":
            raise FactProcessError(f"unexpected cibadmin XML: root <{root.tag}>")
        return {
            "properties": {
                nvpair.get("name"): nvpair.get("value")
                for nvpair in root.iterfind("crm_config/cluster_property_set[@id='cib-bootstrap-options']/nvpair")
            },
            "resources": {child.get("id"): element_tree(child) for child in root.iterfind("resources/*")},
            "constraints": {child.get("id"): element_tree(child) for child in root.iterfind("constraints/*")},
        }
